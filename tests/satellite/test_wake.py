"""Local wake word (pymicro-wakeword, bundled models) in front of the endpointer."""

import numpy as np
import pytest

from satellite.frontend import Frontend
from satellite.settings import FrontendSettings
from satellite.wake import MODELS, WakeWord
from tests.satellite.speech import pcm, silence, spoken

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
