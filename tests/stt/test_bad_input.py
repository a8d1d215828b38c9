"""Bad input, one test per class, over real TCP: an `error` event or a clean close,
the server alive afterwards and other clients unaffected."""

import asyncio
import os

import numpy as np
import psutil
import pytest
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.info import Describe

from nexus_wyoming.audio import PcmFormat, convert_all
from tests.stt.speech import BYTES_PER_SECOND, noise, silence, words
from tests.stt.wire import Received, collect, event, home_assistant_2025_4, send_audio, utterance
from tests.support.client import WyomingClient

COMMAND = "Turn on the kitchen lights."
EXPECTED = ["turn", "on", "the", "kitchen", "lights"]


async def assert_still_serving(server, speaker) -> None:
    assert server.alive
    assert words(await home_assistant_2025_4(server, speaker.say(COMMAND) + silence(0.3))) == EXPECTED


async def started(server, **audio_start) -> WyomingClient:
    client = await WyomingClient.connect(server.host, server.port)
    await client.send(Transcribe(language="en").event())
    await client.send(event("audio-start", **audio_start))
    return client


async def test_garbage_pcm_still_gets_a_transcript(stt_server, speaker):
    received, _ = await utterance(stt_server, os.urandom(3 * BYTES_PER_SECOND))
    assert received.first("transcript") is not None
    await assert_still_serving(stt_server, speaker)


@pytest.mark.parametrize("size", [333, 1001])
async def test_odd_byte_counts_split_samples_across_chunks(stt_server, speaker, size):
    client = await started(stt_server, rate=16000, width=2, channels=1)
    await send_audio(client, speaker.say(COMMAND) + silence(0.3), realtime=False, size=size)
    await client.send(AudioStop().event())
    received = Received()
    await collect(client, received)
    assert words(received.first("transcript").data["text"]) == EXPECTED
    await client.close()


async def test_empty_chunks_are_harmless(stt_server, speaker):
    client = await started(stt_server, rate=16000, width=2, channels=1)
    audio = speaker.say(COMMAND) + silence(0.3)
    for offset in range(0, len(audio), 3200):
        await client.send(AudioChunk(rate=16000, width=2, channels=1, audio=b"").event())
        await client.send(AudioChunk(rate=16000, width=2, channels=1, audio=audio[offset:offset + 3200]).event())
    await client.send(AudioStop().event())
    received = Received()
    await collect(client, received)
    assert words(received.first("transcript").data["text"]) == EXPECTED
    await client.close()


async def test_ten_minutes_of_audio_is_refused_past_the_cap_with_bounded_memory(stt_server, speaker):
    process = psutil.Process(stt_server.pid)
    before = process.memory_info().rss
    client = await started(stt_server, rate=16000, width=2, channels=1)
    received = Received()
    reader = asyncio.create_task(collect(client, received))
    second = noise(1.0, amplitude=0.05)
    for _ in range(600):
        await client.send(AudioChunk(rate=16000, width=2, channels=1, audio=second).event())
    await asyncio.wait_for(reader, 10)
    error = received.first("error")
    assert error is not None and error.data["code"] == "too-long"
    assert received.types == ["error"]
    await client.send(AudioStop().event())
    assert await client.closed()  # the failed utterance ends the connection (HA 2025.4 ignores `error`)
    assert process.memory_info().rss - before < 80 * 1024 * 1024
    await assert_still_serving(stt_server, speaker)


async def test_audio_stop_without_start_is_an_error_and_the_connection_stays(stt_server):
    client = await WyomingClient.connect(stt_server.host, stt_server.port)
    await client.send(AudioStop().event())
    error = await client.read()
    assert error.type == "error" and error.data["code"] == "no-audio"
    await client.send(Describe().event())
    assert (await client.read()).type == "info"
    await client.close()


def stereo_48k(audio16k: bytes) -> bytes:
    mono = np.frombuffer(convert_all(audio16k, PcmFormat(16000), 48000), dtype="<i2")
    return np.repeat(mono, 2).astype("<i2").tobytes()


async def test_format_changing_mid_stream_follows_each_chunk(stt_server, speaker):
    audio = speaker.say(COMMAND) + silence(0.3)
    half = len(audio) // 2 // 2 * 2
    client = await started(stt_server, rate=16000, width=2, channels=1)
    await send_audio(client, audio[:half], realtime=False)
    await send_audio(client, stereo_48k(audio[half:]), realtime=False, rate=48000, channels=2, size=19200)
    await send_audio(client, b"\x80" * 1600, realtime=False, rate=8000, width=1)  # 8-bit silence
    await client.send(AudioStop().event())
    received = Received()
    await collect(client, received)
    assert words(received.first("transcript").data["text"]) == EXPECTED
    await client.close()


ABSURD = [
    {"rate": 0, "width": 2, "channels": 1},
    {"rate": 192_001, "width": 2, "channels": 1},
    {"rate": -16000, "width": 2, "channels": 1},
    {"rate": 16000, "width": 0, "channels": 1},
    {"rate": 16000, "width": 5, "channels": 1},
    {"rate": 16000, "width": 2, "channels": 0},
    {"rate": 16000, "width": 2, "channels": 9},
    {"rate": "16000", "width": 2, "channels": 1},
    {"rate": 16000.5, "width": 2, "channels": 1},
    {"rate": True, "width": 2, "channels": 1},
    {"width": 2, "channels": 1},
    {"rate": 10 ** 30, "width": 2, "channels": 1},
]


@pytest.mark.parametrize("fmt", ABSURD)
async def test_absurd_audio_start_is_refused_then_closed_at_audio_stop(stt_server, fmt):
    client = await started(stt_server, **fmt)
    await client.send(AudioChunk(rate=16000, width=2, channels=1, audio=bytes(3200)).event())
    error = await client.read()
    assert error.type == "error" and error.data["code"] == "bad-format"
    await client.send(AudioStop().event())
    assert await client.closed()


@pytest.mark.parametrize("fmt", ABSURD[:8])
async def test_absurd_audio_chunk_mid_stream_fails_the_utterance(stt_server, speaker, fmt):
    client = await started(stt_server, rate=16000, width=2, channels=1)
    await client.send(AudioChunk(rate=16000, width=2, channels=1, audio=speaker.say(COMMAND)).event())
    await client.send_header({"type": "audio-chunk", "data": fmt, "payload_length": 4}, b"\0\0\0\0")
    error = await client.read()
    assert error.type == "error" and error.data["code"] == "bad-format"
    await client.send(AudioStop().event())
    assert await client.closed()


@pytest.mark.parametrize("data, code", [
    ({"language": 5}, "bad-language"),
    ({"language": "en\nUS"}, "bad-language"),
    ({"language": "x" * 100}, "bad-language"),
    ({"language": "xx"}, "unsupported-language"),
    ({"transcript_names": "Kitchen"}, "bad-names"),
    ({"transcript_names": ["ok", 5]}, "bad-names"),
    ({"transcript_terms": ["x" * 1000]}, "bad-names"),
    ({"transcript_names": ["n"] * 1000}, "bad-names"),
    ({"vad_sensitivity": "sometimes"}, "bad-sensitivity"),
    ({"context": "not an object"}, "bad-context"),
    ({"name": ["whisper"]}, "bad-name"),
])
async def test_bad_transcribe_fields_are_errors_and_the_connection_stays(stt_server, data, code):
    client = await WyomingClient.connect(stt_server.host, stt_server.port)
    await client.send(event("transcribe", **data))
    error = await client.read()
    assert error.type == "error" and error.data["code"] == code
    await client.send(Describe().event())
    assert (await client.read()).type == "info"
    await client.close()


async def test_second_audio_start_is_refused_and_the_utterance_goes_on(stt_server, speaker):
    client = await started(stt_server, rate=16000, width=2, channels=1)
    await send_audio(client, speaker.say(COMMAND)[:16000], realtime=False)
    await client.send(AudioStart(rate=16000, width=2, channels=1).event())
    await send_audio(client, speaker.say(COMMAND)[16000:] + silence(0.3), realtime=False)
    await client.send(AudioStop().event())
    received = Received()
    await collect(client, received, until=("transcript",))
    if received.types[0] == "error":
        assert received.first("error").data["code"] == "utterance-open"
        received = Received()
        await collect(client, received)
    assert words(received.first("transcript").data["text"]) == EXPECTED
    await client.close()


async def test_fifty_clients_at_once_some_are_busy_none_crash(stt_server, speaker):
    audio = speaker.say(COMMAND) + silence(0.2)

    async def one() -> str:
        client = await started(stt_server, rate=16000, width=2, channels=1)
        try:
            await send_audio(client, audio, realtime=False)
            await client.send(AudioStop().event())
            received = Received()
            await collect(client, received)
            if received.first("transcript") is not None:
                assert words(received.first("transcript").data["text"]) == EXPECTED
                return "transcript"
            assert await client.closed()  # after the error: Home Assistant 2025.4 would wait otherwise
            return received.first("error").data["code"]
        finally:
            await client.close()

    outcomes = await asyncio.gather(*(one() for _ in range(50)))
    assert set(outcomes) <= {"transcript", "busy"}
    assert outcomes.count("transcript") >= 1 and outcomes.count("busy") >= 1
    await assert_still_serving(stt_server, speaker)
