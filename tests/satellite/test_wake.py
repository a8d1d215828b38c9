"""Local wake word (pymicro-wakeword, bundled models) in front of the endpointer."""

import os
import subprocess
import sys

import numpy as np
import pytest

from satellite.frontend import Frontend
from satellite.settings import FrontendSettings
from satellite.wake import MODELS, WakeWord
from tests.satellite.speech import pcm, silence, spoken, write_wav
from tests.support.processes import REPO

PHRASES = {"okay_nabu": "Okay Nabu.", "hey_jarvis": "Hey Jarvis.", "hey_mycroft": "Hey Mycroft.", "alexa": "Alexa."}


def _kinds(frontend: Frontend, samples: np.ndarray) -> list:
    data = pcm(samples)
    out = []
    for i in range(0, len(data), 2048):
        out += frontend.feed(data[i:i + 2048])
    return out


@pytest.mark.parametrize("model", MODELS)
def test_each_bundled_model_fires_on_its_phrase_only(model):
    wake = WakeWord(model)
    for name, phrase in PHRASES.items():
        heard = wake.process(pcm(np.concatenate([silence(0.5), spoken(phrase), silence(1.0)])))
        wake.reset()
        assert heard == (name == model), (model, phrase)


def test_wake_word_then_command_is_one_utterance():
    frontend = Frontend.from_settings(FrontendSettings(wake_word="okay_nabu"))
    audio = np.concatenate([silence(0.5), spoken("Okay Nabu."), silence(0.3),
                            spoken("Turn on the kitchen lights."), silence(1.5)])
    segments = _kinds(frontend, audio)
    kinds = [s.kind for s in segments]
    assert kinds[:2] == ["wake", "start"] and kinds[-1] == "end"
    assert segments[0].reason == "okay_nabu" and segments[-1].reason == "silence"


def test_speech_without_the_wake_word_starts_nothing():
    frontend = Frontend.from_settings(FrontendSettings(wake_word="okay_nabu"))
    audio = np.concatenate([silence(0.5), spoken("Turn on the kitchen lights."), silence(1.5)])
    assert _kinds(frontend, audio) == []


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown wake word"):
        WakeWord("hey_computer")


# ---------------------------------------------------------------- the default trigger needs the [wake] extra


def _without_pymicro_wakeword(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """`nexus-satellite ARGS` where `import pymicro_wakeword` fails, as without the [wake] extra."""
    blocker = tmp_path / "blocker" / "pymicro_wakeword"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('not installed (test)')\n")
    mic = write_wav(tmp_path / "mic.wav", silence(0.2))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker.parent), str(REPO)])}
    return subprocess.run([sys.executable, "-m", "satellite", *args, "--mic-file", str(mic), "--data-dir",
                           str(tmp_path / "data"), "--snd-file", str(tmp_path / "out.wav")],
                          capture_output=True, text=True, timeout=60, env=env, cwd=REPO)


@pytest.mark.parametrize("mode", ["run", "ha"])
def test_without_the_wake_extra_the_default_exits_2_naming_both_ways_out(tmp_path, mode):
    args = ["run", "--stt-uri", "tcp://127.0.0.1:1", "--intent-uri", "tcp://127.0.0.1:1", "--tts-uri",
            "tcp://127.0.0.1:1"] if mode == "run" else ["ha", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf"]
    result = _without_pymicro_wakeword(tmp_path, *args)
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "pymicro-wakeword" in line]
    assert "pip install 'nexus-wyoming[wake]'" in line and "--no-wake-word" in line and "okay_nabu" in line
    assert "Traceback" not in result.stderr
    assert "listening" not in result.stderr and "serving" not in result.stderr  # it stopped at the start


def test_every_speech_mode_needs_no_wake_extra(tmp_path):
    result = _without_pymicro_wakeword(tmp_path, "run", "--no-wake-word", "--stt-uri", "tcp://127.0.0.1:1",
                                       "--intent-uri", "tcp://127.0.0.1:1", "--tts-uri", "tcp://127.0.0.1:1")
    assert result.returncode == 0, result.stderr
    assert "pymicro-wakeword" not in result.stderr
