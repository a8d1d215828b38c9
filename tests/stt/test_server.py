"""The STT server over real TCP: describe, streamed partials, the final transcript,
Home Assistant 2025.4's way of reading, early decoding, ending by itself, shutdown."""

import asyncio

from wyoming.asr import Transcribe
from wyoming.audio import AudioStart, AudioStop
from wyoming.info import Describe, Info

from tests.stt.conftest import stt_args
from tests.stt.speech import silence, words
from tests.stt.wire import Received, collect, home_assistant_2025_4, send_audio, utterance
from tests.support.client import WyomingClient
from tests.support.processes import ServerProcess

COMMAND = "Turn on the kitchen lights."
EXPECTED = ["turn", "on", "the", "kitchen", "lights"]


async def describe(server) -> Info:
    client = await WyomingClient.connect(server.host, server.port)
    await client.send(Describe().event())
    info = Info.from_event(await client.read())
    await client.close()
    return info


async def test_describe_offers_streaming_and_whisper_languages(stt_server):
    program = (await describe(stt_server)).asr[0]
    assert program.supports_transcript_streaming and program.requires_external_vad
    languages = {language for model in program.models for language in model.languages}
    assert {"en", "de", "fr"} <= languages
    assert [m.name for m in program.models] == ["whisper"]  # no Deepgram key here


async def test_real_time_command_streams_partials_before_audio_stop(stt_server, speaker):
    received, stopped = await utterance(stt_server, speaker.say(COMMAND) + silence(0.7), realtime=True)
    assert received.types[0] == "transcript-start"
    assert received.time_of("transcript-chunk") < stopped
    assert received.types[-2:] == ["transcript", "transcript-stop"]
    assert set(received.types[1:-2]) == {"transcript-chunk"}
    assert words(received.first("transcript").data["text"]) == EXPECTED
    assert received.first("transcript").data["language"] == "en"
    assert stt_server.wait_for_log(r'"early": true')  # decoded during the trailing silence


async def test_home_assistant_2025_4_reads_only_the_transcript(stt_server, speaker):
    text = await home_assistant_2025_4(stt_server, speaker.say(COMMAND) + silence(0.7))
    assert words(text) == EXPECTED


async def test_names_and_sensitivity_are_accepted(stt_server, speaker):
    # speech from the first sample, with a name prompt: base Whisper may drop "Turn"; HA's stream has a lead-in
    received, _ = await utterance(stt_server, silence(0.3) + speaker.say(COMMAND) + silence(0.5), language="en-US",
                                  transcript_names=["Kitchen"], transcript_terms=["lights"],
                                  vad_sensitivity="aggressive")
    assert words(received.first("transcript").data["text"]) == EXPECTED


async def test_audio_chunks_without_start_are_an_utterance(stt_server, speaker):
    client = await WyomingClient.connect(stt_server.host, stt_server.port)
    await send_audio(client, speaker.say(COMMAND) + silence(0.3), realtime=False)
    await client.send(AudioStop().event())
    received = Received()
    await collect(client, received)
    assert words(received.first("transcript").data["text"]) == EXPECTED
    await client.close()


async def test_one_connection_serves_utterances_one_after_another(stt_server, speaker):
    client = await WyomingClient.connect(stt_server.host, stt_server.port)
    texts = []
    for sentence in (COMMAND, "What time is it?"):
        await client.send(Transcribe(language="en").event())
        await client.send(AudioStart(rate=16000, width=2, channels=1).event())
        await send_audio(client, speaker.say(sentence) + silence(0.3), realtime=False)
        await client.send(AudioStop().event())
        received = Received()
        await collect(client, received)
        texts.append(words(received.first("transcript").data["text"]))
    assert texts == [EXPECTED, ["what", "time", "is", "it"]]
    await client.close()


async def test_a_client_leaving_mid_utterance_cancels_its_decoding(stt_server, speaker):
    client = await WyomingClient.connect(stt_server.host, stt_server.port)
    await client.send(AudioStart(rate=16000, width=2, channels=1).event())
    await send_audio(client, speaker.say(COMMAND) * 3, realtime=False)  # no pause: decoding starts at audio-stop
    await client.send(AudioStop().event())
    await client.close()  # gone before the transcript
    assert stt_server.wait_for_log(r"left before its transcript: decoding cancelled")
    text = await home_assistant_2025_4(stt_server, speaker.say(COMMAND) + silence(0.5))
    assert words(text) == EXPECTED


async def test_server_that_ends_utterances_itself(tmp_path, stt_data_dir, speaker):
    server = ServerProcess(stt_args(stt_data_dir), env={"NEXUS_STT__REQUIRES_EXTERNAL_VAD": "false"}).start()
    try:
        assert not (await describe(server)).asr[0].requires_external_vad
        client = await WyomingClient.connect(server.host, server.port)
        await client.send(Transcribe(language="en").event())
        await client.send(AudioStart(rate=16000, width=2, channels=1).event())
        received = Received()
        reader = asyncio.create_task(collect(client, received))
        await send_audio(client, speaker.say(COMMAND) + silence(2.0), realtime=True)
        # No audio-stop yet: the transcript comes because the server heard the end itself
        # (on an idle machine while the silence still streams; a busy one may decode later).
        await asyncio.wait_for(reader, 30)
        assert words(received.first("transcript").data["text"]) == EXPECTED
        await client.send(AudioStop().event())  # accepted, nothing more to say
        await client.send(Describe().event())
        assert (await client.read()).type == "info"
        await client.close()
        # Home Assistant 2025.4 ignores the flag, stops by itself and still reads the transcript
        assert words(await home_assistant_2025_4(server, speaker.say(COMMAND) + silence(0.7))) == EXPECTED
    finally:
        server.stop()


async def test_sigterm_lets_the_utterance_in_flight_finish(stt_data_dir, speaker):
    server = ServerProcess(stt_args(stt_data_dir)).start()
    try:
        client = await WyomingClient.connect(server.host, server.port)
        await client.send(AudioStart(rate=16000, width=2, channels=1).event())
        await send_audio(client, speaker.say(COMMAND)[:16000], realtime=False)
        await client.send(Describe().event())
        await client.read_until("info")  # events are handled in order: the utterance is open now
        server.proc.terminate()
        await asyncio.sleep(0.3)
        await send_audio(client, speaker.say(COMMAND)[16000:] + silence(0.3), realtime=False)
        await client.send(AudioStop().event())
        received = Received()
        await collect(client, received)
        assert words(received.first("transcript").data["text"]) == EXPECTED
        await client.close()
        assert await asyncio.to_thread(server.proc.wait, 30) == 0
    finally:
        server.stop()
