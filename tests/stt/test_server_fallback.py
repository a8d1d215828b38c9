"""The engine chain in a real server: Deepgram (a local fake speaking its wire format)
first, Whisper taking over with the whole utterance replayed when Deepgram fails."""

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
