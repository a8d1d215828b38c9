"""Optional local wake word with microWakeWord models bundled in `pymicro-wakeword`.

Evaluated for this project: `pymicro-wakeword` 2.5 and `pyopen-wakeword` 1.1 both
install from the index with their models and TFLite runtime inside the wheel (x86-64
and aarch64, glibc >= 2.35, so Raspberry Pi OS bookworm). microWakeWord models are
~50-80 KB and run per 10 ms feature step, cheap enough for a Pi Zero 2; the four
bundled ones (okay_nabu, hey_jarvis, hey_mycroft, alexa) each fire on their phrase
spoken by Piper and stay silent on the others (tests/satellite/test_wake.py).
"""

from typing import Optional

MODELS = ("okay_nabu", "hey_jarvis", "hey_mycroft", "alexa")
NO_WAKE_WORD = "none"  # frontend.wake_word: none = every speech starts a turn


class WakeWord:
    """Streams 16 kHz 16-bit mono audio through one microWakeWord model."""

    def __init__(self, model: str) -> None:
        try:
            from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model
        except ImportError as err:
            raise RuntimeError(f"the wake word {model} (frontend.wake_word) needs pymicro-wakeword: "
                               "pip install 'nexus-wyoming[wake]', or let every speech start a turn with "
                               "--no-wake-word (frontend.wake_word: none)") from err
        if model not in MODELS:
            raise ValueError(f"unknown wake word {model!r}; bundled: {', '.join(MODELS)}")
        self.name = model
        self._model = MicroWakeWord.from_builtin(Model(model))
        self.phrase = self._model.wake_word
        self._features = MicroWakeWordFeatures()

    def process(self, pcm: bytes) -> bool:
        """True when the wake word was just heard; the detector is then reset."""
        for features in self._features.process_streaming(pcm):
            if self._model.process_streaming(features):
                self.reset()
                return True
        return False

    def reset(self) -> None:
        """Start fresh (after a detection, or after an utterance)."""
        self._model.reset()
        self._features.reset()


def make_wake_word(model: Optional[str]) -> Optional[WakeWord]:
    """The configured detector, or None when every speech starts a turn."""
    return WakeWord(model) if model else None
