"""Voice activity per 30 ms frame: WebRTC VAD, or an energy detector when it is missing."""

import logging
from typing import Protocol

import numpy as np

_LOGGER = logging.getLogger(__name__)
FRAME_MS = 30
RATE = 16_000
FRAME_SAMPLES = RATE * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2


class Vad(Protocol):
    """Decides whether one 30 ms frame of 16 kHz speech-band audio is voiced."""

    name: str

    def is_speech(self, pcm: bytes, samples: np.ndarray) -> bool:
        """`pcm` (16-bit) and `samples` (float) are the same frame."""


class WebRtcVad:
    """Google's WebRTC VAD; `mode` 0 (least) to 3 (most aggressive at rejecting non-speech)."""

    name = "webrtc"

    def __init__(self, mode: int) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad(mode)

    def is_speech(self, pcm: bytes, samples: np.ndarray) -> bool:
        """WebRTC's decision for the frame."""
        return bool(self._vad.is_speech(pcm, RATE))


class EnergyVad:
    """Loud enough above a tracked noise floor: cruder than WebRTC, but needs nothing."""

    name = "energy"

    def __init__(self, threshold: float = 0.015, ratio: float = 3.0) -> None:
        self.threshold = threshold
        self.ratio = ratio
        self.floor = threshold / ratio

    def is_speech(self, pcm: bytes, samples: np.ndarray) -> bool:
        """Voiced when RMS passes both the absolute threshold and `ratio` × the noise floor."""
        rms = float(np.sqrt(np.dot(samples, samples) / max(1, len(samples))))
        voiced = rms >= self.threshold and rms >= self.floor * self.ratio
        # The floor falls fast and rises slowly, so speech does not lift it much.
        self.floor = rms if rms < self.floor else self.floor * 0.995 + rms * 0.005
        return voiced


def make_vad(kind: str, mode: int, energy_threshold: float) -> Vad:
    """The configured VAD; WebRTC falls back to energy with a warning when not installed."""
    if kind == "webrtc":
        try:
            return WebRtcVad(mode)
        except ImportError:
            _LOGGER.warning("webrtcvad is not installed; using the energy VAD")
    return EnergyVad(energy_threshold)
