"""The TTS server over real TCP: describe, synthesize, streaming, metrics, shutdown."""

import asyncio
import urllib.request

import pytest

from wyoming.audio import AudioStart
from wyoming.error import Error
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from tests.conftest import tts_args
from tests.support.client import WyomingClient
from tests.support.processes import ServerProcess

PARAGRAPH = (
    "The weather today is sunny with a high of 72 degrees, and a gentle breeze from the west. "
    "Tomorrow brings clouds in the morning, clearing by the afternoon. "
    "Remember to take an umbrella on Friday, because heavy rain is expected."
)


def audio_seconds(events) -> float:
    start = next(AudioStart.from_event(e) for e in events if e.type == "audio-start")
    return sum(len(e.payload or b"") for e in events if e.type == "audio-chunk") / (2 * start.rate)


async def synthesize(server, text: str, **kwargs):
    client = await WyomingClient.connect(server.host, server.port)
    try:
        await client.send(Synthesize(text=text, **kwargs).event())
        return await client.read_until("audio-stop")
    finally:
        await client.close()


async def stream(client: WyomingClient, text: str) -> list:
    await client.send(SynthesizeStart().event())
    for word in text.split(" "):
        await client.send(SynthesizeChunk(text=word + " ").event())
    await client.send(Synthesize(text=text).event())  # compatibility copy: must not be spoken
    await client.send(SynthesizeStop().event())
    return await client.read_until("synthesize-stopped")


async def test_describe_lists_voice_and_streaming(tts_server):
    client = await WyomingClient.connect(tts_server.host, tts_server.port)
    await client.send(Describe().event())
    info = Info.from_event(await client.read())
    program = info.tts[0]
    assert program.supports_synthesize_streaming
    assert "en_US-joe-medium" in [v.name for v in program.voices]
    await client.close()


async def test_synthesize_sends_one_audio_stream(tts_server):
    events = await synthesize(tts_server, "Turn on the kitchen lights.")
    types = [e.type for e in events]
    assert types[0] == "audio-start" and types[-1] == "audio-stop"
    assert set(types[1:-1]) == {"audio-chunk"}
    start = AudioStart.from_event(events[0])
    assert (start.rate, start.width, start.channels) == (22050, 2, 1)
    chunks = [e.payload for e in events if e.type == "audio-chunk"]
    assert all(len(c) == 2048 for c in chunks[:-1])  # samples_per_chunk 1024 × 2 bytes
    assert 0.8 < audio_seconds(events) < 4.0


async def test_paragraph_is_spoken_whole(tts_server):
    events = await synthesize(tts_server, PARAGRAPH)
    assert [e.type for e in events].count("audio-start") == 1
    assert 8.0 < audio_seconds(events) < 20.0


async def test_streaming_speaks_each_sentence_once(tts_server):
    client = await WyomingClient.connect(tts_server.host, tts_server.port)
    events = await stream(client, PARAGRAPH)
    await client.close()
    types = [e.type for e in events]
    # the first clause ("…72 degrees,") is spoken on its own, then the three sentences' rests
    assert types.count("audio-start") == 4 == types.count("audio-stop")
    streamed = sum(len(e.payload) for e in events if e.type == "audio-chunk") / (2 * 22050)
    whole = audio_seconds(await synthesize(tts_server, PARAGRAPH))
    assert abs(streamed - whole) < 0.25 * whole  # not spoken twice


async def test_streaming_audio_starts_before_text_ends(tts_server):
    client = await WyomingClient.connect(tts_server.host, tts_server.port)
    await client.send(SynthesizeStart().event())
    await client.send(SynthesizeChunk(text="Hello there, my friend. How ").event())
    events = await client.read_until("audio-chunk")  # the first sentence plays while text is still open
    assert events[0].type == "audio-start"
    await client.send(SynthesizeChunk(text="are you?").event())
    await client.send(SynthesizeStop().event())
    rest = await client.read_until("synthesize-stopped")
    assert [e.type for e in rest].count("audio-start") == 1
    await client.close()


async def test_empty_stream_ends_with_an_empty_block(tts_server):
    # Every stream ends with audio-stop: a client waiting for it is never left hanging.
    client = await WyomingClient.connect(tts_server.host, tts_server.port)
    await client.send(SynthesizeStart().event())
    await client.send(SynthesizeStop().event())
    events = await client.read_until("synthesize-stopped")
    assert [e.type for e in events] == ["audio-start", "audio-stop", "synthesize-stopped"]
    await client.close()


async def test_unknown_voice_is_an_error_and_connection_stays_usable(tts_server):
    client = await WyomingClient.connect(tts_server.host, tts_server.port)
    await client.send(Synthesize(text="Hello.", voice=SynthesizeVoice(name="nope")).event())
    error = Error.from_event(await client.read())
    assert error.code == "unknown-voice" and "nope" in error.text
    await client.send(Synthesize(text="Hello.", voice=SynthesizeVoice(name="en_US-joe-medium")).event())
    assert (await client.read_until("audio-stop"))[0].type == "audio-start"
    await client.close()


async def test_concurrent_clients_are_served_in_parallel(tts_server):
    results = await asyncio.gather(*(synthesize(tts_server, f"Client number {i} is here.") for i in range(6)))
    assert all(r[-1].type == "audio-stop" for r in results)


async def test_metrics_endpoint_and_request_log(tmp_path):
    server = ServerProcess(tts_args(tmp_path) + ["--metrics-port", "0", "--log-format", "json"]).start()
    try:
        await synthesize(server, "Metrics please.")
        assert server.wait_for_log(r'"request": "tts"')
        assert '"first_audio_ms"' in server.log
        import re

        port = int(re.search(r"metrics on http://[\d.]+:(\d+)/metrics", server.log).group(1))
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode())
        assert 'nexus_tts_first_audio_seconds_bucket{engine="piper",kind="synthesize",le="+Inf"} 1' in body
        assert "nexus_tts_real_time_factor_count" in body
    finally:
        server.stop()


async def test_sigterm_drains_the_request_in_flight(tmp_path):
    server = ServerProcess(tts_args(tmp_path)).start()
    try:
        client = await WyomingClient.connect(server.host, server.port)
        await client.send(Synthesize(text=PARAGRAPH).event())
        await client.read_until("audio-chunk")
        server.proc.terminate()  # SIGTERM while audio is still being produced
        events = await client.read_until("audio-stop")
        assert events[-1].type == "audio-stop"
        assert await asyncio.to_thread(server.proc.wait, 30) == 0
    finally:
        server.stop()


async def test_streaming_speaks_the_first_clause_before_the_sentence_ends(tts_server):
    # An LLM streams tokens slowly: the first clause plays before its sentence is complete.
    client = await WyomingClient.connect(tts_server.host, tts_server.port)
    await client.send(SynthesizeStart().event())
    for word in "Well, I think the kitchen lights are on, ".split(" "):
        await client.send(SynthesizeChunk(text=word + " ").event())
    first = await client.read_until("audio-chunk")
    assert first[0].type == "audio-start"
    await client.send(SynthesizeChunk(text="but the hall is dark.").event())
    await client.send(SynthesizeStop().event())
    rest = await client.read_until("synthesize-stopped")
    await client.close()
    streamed = sum(len(e.payload) for e in first + rest if e.type == "audio-chunk") / (2 * 22050)
    whole = audio_seconds(await synthesize(tts_server, "Well, I think the kitchen lights are on, but the hall is dark."))
    assert abs(streamed - whole) < 0.3 * whole


@pytest.mark.parametrize("text", ["...", "-", ",", "—", "()", ". . ."])
async def test_punctuation_alone_is_answered_with_an_empty_block(tts_server, text):
    client = await WyomingClient.connect(tts_server.host, tts_server.port)
    await client.send(Synthesize(text=text).event())
    events = await client.read_until("audio-stop", timeout=5)  # promptly, not at the 300 s idle close
    assert [e.type for e in events] == ["audio-start", "audio-stop"]
    await client.close()


async def test_stream_of_punctuation_alone_still_ends_with_audio_stop(tts_server):
    client = await WyomingClient.connect(tts_server.host, tts_server.port)
    await client.send(SynthesizeStart().event())
    await client.send(SynthesizeChunk(text="... — ").event())
    await client.send(SynthesizeChunk(text="(). ").event())
    await client.send(SynthesizeStop().event())
    events = await client.read_until("synthesize-stopped", timeout=5)
    assert [e.type for e in events] == ["audio-start", "audio-stop", "synthesize-stopped"]
    await client.close()


async def test_punctuation_between_sentences_is_skipped(tts_server):
    events = await synthesize(tts_server, "Hello. ... — Goodbye.")
    assert [e.type for e in events].count("audio-start") == 1 and audio_seconds(events) > 0.5
