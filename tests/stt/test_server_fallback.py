"""The engine chain in a real server: Deepgram (a local fake speaking its wire format)
first, Whisper taking over with the whole utterance replayed when Deepgram fails."""

import asyncio
import time

import pytest

from tests.fakes.deepgram_listen import FakeDeepgramListen
from tests.stt.conftest import stt_args
from tests.stt.speech import silence, words
from tests.stt.wire import utterance
from tests.support.processes import ServerProcess

COMMAND = "Turn on the kitchen lights."
WHISPER_HEARS = ["turn", "on", "the", "kitchen", "lights"]
FAKE_SAYS = ["turn", "on", "the", "kitchen", "light"]  # the fake's scripted words: tells who answered


def server_with(fake: FakeDeepgramListen, data_dir, key: str) -> ServerProcess:
    env = {"DEEPGRAM_API_KEY": key, "NEXUS_STT__DEEPGRAM__URL": fake.url}
    return ServerProcess(stt_args(data_dir), env=env).start()


async def test_deepgram_answers_first_with_its_partials(stt_data_dir, speaker):
    async with FakeDeepgramListen() as fake:
        server = server_with(fake, stt_data_dir, fake.api_key)
        try:
            received, stopped = await utterance(server, speaker.say(COMMAND) + silence(0.7), realtime=True)
            assert words(received.first("transcript").data["text"]) == FAKE_SAYS
            assert received.time_of("transcript-chunk") < stopped
            assert len(fake.streams) == 1
        finally:
            server.stop()


async def test_refused_key_falls_back_to_whisper(stt_data_dir, speaker):
    async with FakeDeepgramListen() as fake:
        server = server_with(fake, stt_data_dir, "wrong-key")
        try:
            received, _ = await utterance(server, speaker.say(COMMAND) + silence(0.5))
            assert words(received.first("transcript").data["text"]) == WHISPER_HEARS
            assert server.wait_for_log(r"stt engine deepgram failed .*; trying whisper")
        finally:
            server.stop()


async def test_deepgram_dropping_mid_utterance_hands_all_of_it_to_whisper(stt_data_dir, speaker):
    async with FakeDeepgramListen(close_after_s=0.6) as fake:
        server = server_with(fake, stt_data_dir, fake.api_key)
        try:
            received, _ = await utterance(server, speaker.say(COMMAND) + silence(0.7), realtime=True)
            assert words(received.first("transcript").data["text"]) == WHISPER_HEARS  # nothing was lost
            assert fake.streams and len(fake.streams[0].audio) < len(speaker.say(COMMAND))
        finally:
            server.stop()


#: audio-stop → transcript when Deepgram fails: detecting the fault takes at most
#: stt.first_result_timeout_s (5 s; connect, first result and Finalize waits are shorter), then
#: Whisper decodes the replayed utterance (~1 s quiet, up to ~10 s on two busy shared cores).
FAULT_BUDGET_S = 20.0
FAULTS = {
    "hang before the first byte": {"stall_handshake": True},
    "hang after the handshake": {"silent": True},
    "503 at the upgrade": {"reject_status": 503},
    "429 at the upgrade": {"reject_status": 429, "retry_after": "1"},
    "garbage frames": {"garbage": True},
    "empty results": {"words": []},
    "break after 2 results": {"drop_after_results": 2},
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_failing_deepgram_never_costs_the_transcript(stt_data_dir, speaker, fault):
    async with FakeDeepgramListen(**FAULTS[fault]) as fake:
        server = server_with(fake, stt_data_dir, fake.api_key)
        try:
            received, stopped = await utterance(server, speaker.say(COMMAND) + silence(0.7), realtime=True)
            assert words(received.first("transcript").data["text"]) == WHISPER_HEARS
            assert received.time_of("transcript") - stopped < FAULT_BUDGET_S
            assert fake.handshakes, "Deepgram was not tried"
            assert server.wait_for_log(r"stt engine deepgram failed .*; trying whisper")
            assert server.log.count("not JSON") <= 1, "one log line per garbage frame"
            assert "Traceback" not in server.log
        finally:
            server.stop()


async def test_retry_after_is_the_cooldown(stt_data_dir, speaker):
    """Deepgram's 429 asks for 15 s: skipped until then (not our 30 s default), tried again after."""
    audio = speaker.say(COMMAND) + silence(0.5)
    async with FakeDeepgramListen(reject_status=429, reject_count=1, retry_after="15") as fake:
        server = server_with(fake, stt_data_dir, fake.api_key)
        try:
            refused_at = time.monotonic()
            received, _ = await utterance(server, audio)
            assert words(received.first("transcript").data["text"]) == WHISPER_HEARS
            assert time.monotonic() - refused_at < 15, "too slow to see the cooldown"
            received, _ = await utterance(server, audio)  # cooling down: Deepgram is not asked
            assert words(received.first("transcript").data["text"]) == WHISPER_HEARS
            assert len(fake.handshakes) == 1
            await asyncio.sleep(max(0.0, 15.5 - (time.monotonic() - refused_at)))
            received, _ = await utterance(server, audio)
            assert words(received.first("transcript").data["text"]) == FAKE_SAYS
            assert len(fake.handshakes) == 2
        finally:
            server.stop()
