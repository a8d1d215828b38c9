"""VAD and endpointing on Piper-spoken speech vs noise, through the whole frontend."""

import sys

import numpy as np
import pytest

from satellite.endpoint import EndpointSettings, Endpointer
from satellite.frontend import Frontend
from satellite.settings import FrontendSettings
from satellite.vad import FRAME_BYTES, EnergyVad, WebRtcVad, make_vad
from tests.satellite.speech import RATE, noise, pcm, silence, spoken

COMMAND = "Turn on the kitchen lights, please."


def _voiced_share(frontend: Frontend, samples: np.ndarray) -> float:
    data = pcm(samples)
    flags = [frontend.process_frame(data[i:i + FRAME_BYTES])[1]
             for i in range(0, len(data) - FRAME_BYTES + 1, FRAME_BYTES)]
    return float(np.mean(flags))


def _segments(frontend: Frontend, samples: np.ndarray, chunk: int = 2048):
    data = pcm(samples)
    out = []
    for i in range(0, len(data), chunk):
        for segment in frontend.feed(data[i:i + chunk]):
            out.append((i // 2 / RATE, segment))
    return out


@pytest.mark.parametrize("vad", ["webrtc", "energy"])
def test_speech_is_voiced_and_quiet_room_noise_is_not(vad):
    speech = _voiced_share(Frontend(FrontendSettings(vad=vad)), spoken(COMMAND))
    room = _voiced_share(Frontend(FrontendSettings(vad=vad)), noise(5.0, 0.005))
    assert speech >= (0.8 if vad == "webrtc" else 0.5)  # Piper varies a little from run to run
    assert room <= 0.05


def test_vad_mode_is_applied():
    hiss = noise(3.0, 0.03)
    assert _voiced_share(Frontend(FrontendSettings(vad_mode=0)), hiss) > 0.5
    assert _voiced_share(Frontend(FrontendSettings(vad_mode=3)), hiss) < 0.1


@pytest.mark.parametrize("vad", ["webrtc", "energy"])
def test_one_utterance_from_speech_ends_after_500_ms_of_silence(vad):
    speech = spoken(COMMAND)
    segments = _segments(Frontend(FrontendSettings(vad=vad)), np.concatenate([silence(1.0), speech, silence(2.0)]))
    kinds = [s.kind for _, s in segments]
    assert kinds.count("start") == 1 and kinds.count("end") == 1
    assert kinds[0] == "start" and kinds[-1] == "end" and set(kinds[1:-1]) == {"audio"}
    end_time, end = segments[-1]
    assert end.reason == "silence"
    speech_end = 1.0 + _last_loud(speech)
    assert speech_end + 0.4 <= end_time <= speech_end + 0.8
    start_time, start = segments[0]
    assert 1.0 <= start_time <= 1.6
    assert len(start.audio) == 10 * FRAME_BYTES  # 300 ms pre-roll
    audio = b"".join(s.audio for _, s in segments)
    assert len(audio) / 2 / RATE >= len(speech) / RATE  # nothing of the command is lost


def _last_loud(samples: np.ndarray) -> float:
    loud = np.nonzero(np.abs(samples) > 0.02)[0]
    return loud[-1] / RATE


def test_noise_alone_starts_nothing():
    assert _segments(Frontend(FrontendSettings()), noise(10.0, 0.005)) == []


def test_two_commands_are_two_utterances():
    speech = spoken(COMMAND)
    audio = np.concatenate([silence(0.5), speech, silence(1.5), spoken("What time is it?"), silence(1.5)])
    kinds = [s.kind for _, s in _segments(Frontend(FrontendSettings()), audio)]
    assert kinds.count("start") == 2 and kinds.count("end") == 2


def test_end_silence_is_configurable():
    speech = np.concatenate([silence(0.5), spoken(COMMAND), silence(3.0)])
    ends = {}
    for ms in (300, 1500):
        segments = _segments(Frontend(FrontendSettings(end_silence_ms=ms)), speech)
        ends[ms] = segments[-1][0]
    assert 0.9 <= ends[1500] - ends[300] <= 1.5


def test_max_utterance_length_ends_a_long_one():
    talk = np.concatenate([spoken(COMMAND)] * 4)
    segments = _segments(Frontend(FrontendSettings(max_utterance_s=2.0)), talk)
    first_end = next(s for _, s in segments if s.kind == "end")
    assert first_end.reason == "max-length"


def test_partial_frames_wait_for_the_next_chunk():
    frontend = Frontend(FrontendSettings())
    data = pcm(np.concatenate([silence(0.3), spoken(COMMAND), silence(1.0)]))
    whole = [s.kind for s in Frontend(FrontendSettings()).feed(data)]
    odd = []
    for i in range(0, len(data), 333):
        odd += [s.kind for s in frontend.feed(data[i:i + 333])]
    assert odd == whole


# ---------------------------------------------------------------- endpointer alone


def _push(endpointer: Endpointer, pattern: str):
    """x: voiced, .: silent; e/o: voiced/silent while our speaker may be heard (echo)."""
    out = []
    for ch in pattern:
        out += endpointer.push(b"\x00\x00" * 480, ch in "xe", echo=ch in "eo")
    return [s.kind for s in out]


def test_a_short_click_of_speech_does_not_start():
    endpointer = Endpointer(EndpointSettings(min_speech_ms=150))
    assert _push(endpointer, "..xx....x...xx.....") == []
    assert _push(endpointer, ".........." + "xxxx") == []
    assert _push(endpointer, "x") == ["start"]  # the fifth voiced frame of the window: 150 ms


def test_armed_utterance_gives_up_without_speech():
    endpointer = Endpointer(EndpointSettings(no_speech_s=0.3), vad_trigger=False)
    assert _push(endpointer, "xxxxxxxxxx") == []  # not triggered by VAD when armed-only
    assert endpointer.arm().kind == "start"
    kinds = _push(endpointer, "..........x")
    assert kinds[-1] == "end" and endpointer.active is False
    assert len(kinds) == 11  # 10 frames = 300 ms, then the end


def test_a_pause_after_the_wake_word_does_not_end_the_turn():
    """The wake word's last syllable after its detection is not the command: pausing 0.9 s is fine."""
    endpointer = Endpointer(EndpointSettings(), vad_trigger=False)
    endpointer.arm()
    assert "end" not in _push(endpointer, "xxx" + "." * 30 + "xxxxxxxxxx")
    assert _push(endpointer, "." * 17)[-1] == "end"  # the command's 500 ms tail


def test_the_awake_sound_is_not_taken_for_the_command():
    endpointer = Endpointer(EndpointSettings(), vad_trigger=False)
    endpointer.arm()
    assert "end" not in _push(endpointer, "e" * 10 + "o" * 10 + "." * 20 + "xxxxxx")  # beep, pause, command
    assert _push(endpointer, "." * 17)[-1] == "end"
    endpointer.arm()
    assert _push(endpointer, "xxxxxx" + "e" * 3 + "o" * 17)[-1] == "end"  # the user spoke: echo's silence ends it


def test_cancel_drops_the_utterance():
    endpointer = Endpointer(EndpointSettings())
    assert "start" in _push(endpointer, "xxxxxx")
    endpointer.cancel()
    assert not endpointer.active
    assert _push(endpointer, "....") == []


# ---------------------------------------------------------------- VAD choice


def test_energy_vad_is_used_when_webrtcvad_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "webrtcvad", None)  # import now fails
    assert isinstance(make_vad("webrtc", 1, 0.015), EnergyVad)


def test_webrtc_is_the_default():
    assert isinstance(Frontend(FrontendSettings()).vad, WebRtcVad)
