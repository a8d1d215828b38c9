"""Real audio devices without hardware: the satellite on a PulseAudio sound server.

A spoken question is played into the `micfeed` null sink, whose monitor the satellite
records from (PortAudio via sounddevice, or `arecord -D pulse`); the reply it plays on
`speaker` (sounddevice, or `aplay -D pulse`) is recorded from that sink's monitor and
transcribed back by the real STT server. "Heard" is measured there, at the device.
"""

import re
from typing import Iterator

import pytest
from wyoming.audio import AudioStart

from nexus_wyoming.client.actions import transcribe_audio
from tests.satellite.doubles import REPLY, IntentDouble
from tests.satellite.pulse import Pulse, PulseUnavailable, device_turn

QUESTION = "What time is it?"  # what conftest's question_wav says


@pytest.fixture(scope="module")
def pulse() -> Iterator[Pulse]:
    try:
        server = Pulse().start()
    except PulseUnavailable as err:  # test.sh installs it: CI always runs these
        pytest.skip(f"no PulseAudio here: {err}")
    yield server
    server.stop()


@pytest.fixture
async def intent():
    double = await IntentDouble().start()
    yield double
    await double.stop()


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def overlap(heard: str, said: str) -> float:
    """Share of the said words that were heard."""
    return len(words(heard) & words(said)) / len(words(said))


@pytest.mark.parametrize("mic, speaker", [("sounddevice", "aplay"), ("arecord", "sounddevice")])  # each path once
async def test_a_question_spoken_into_the_device_is_answered_out_of_the_device(
        tmp_path, pulse, stt_server, tts_server, intent, question_wav, mic, speaker):
    stt = f"tcp://{stt_server.host}:{stt_server.port}"
    turn = await device_turn(pulse, mic, speaker, question_wav, [
        "--data-dir", str(tmp_path / "data"), "--stt-uri", stt, "--intent-uri", intent.uri,
        "--tts-uri", f"tcp://{tts_server.host}:{tts_server.port}"])
    assert turn.record is not None and turn.record["outcome"] == "played", turn.log
    # the microphone path: what the satellite recorded is the question
    assert overlap(turn.record["transcript"], QUESTION) >= 0.75, turn.record
    # the speaker path: the reply came out of the device and says the reply text
    assert turn.first_sound is not None, turn.log
    assert len(turn.stamps) == 1, turn.log  # one playback: the first sound after the question is the reply
    heard = await transcribe_audio(stt, AudioStart(rate=16000, width=2, channels=1), turn.reply, realtime=False)
    assert overlap(heard.values["text"], " ".join(REPLY)) >= 0.6, heard.values["text"]
    assert len(turn.reply) / 32000 >= 1.5
    # heard at the device: after the end-of-speech silence, and the satellite's own stamp tells the truth
    assert 0.5 < turn.latency_s < 10, turn.latency_s
    assert abs(turn.stamp_error_s) < 0.25, (turn.stamp_error_s, turn.log)
