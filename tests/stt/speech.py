"""Test audio made at test time: spoken commands from the bundled Piper voice, and
synthetic tones, noise and silence, all as 16 kHz 16-bit mono PCM unless stated."""

import re
from pathlib import Path

import numpy as np

from nexus_wyoming.audio import PcmFormat, convert_all

RATE = 16000
BYTES_PER_SECOND = RATE * 2


class Speaker:
    """Piper (deterministic: no noise) speaking into a per-session cache directory."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self._voice = None

    def say(self, text: str) -> bytes:
        """`text` spoken, resampled 22050 → 16000 Hz with nexus_wyoming.audio."""
        path = self.cache / (re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") + ".pcm")
        if not path.exists():
            path.write_bytes(self._synthesize(text))
        return path.read_bytes()

    def _synthesize(self, text: str) -> bytes:
        from piper import PiperVoice, SynthesisConfig

        from nexus_wyoming.tts.engines.piper import find_voices

        if self._voice is None:
            self._voice = PiperVoice.load(str(find_voices(None)["en_US-joe-medium"]))
        chunks = list(self._voice.synthesize(text, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)))
        pcm = b"".join(chunk.audio_int16_bytes for chunk in chunks)
        return convert_all(pcm, PcmFormat(chunks[0].sample_rate), RATE)


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * RATE) * 2)


def tone(seconds: float, frequency: float = 220.0, amplitude: float = 0.3) -> bytes:
    """A voiced-sounding harmonic tone (WebRTC VAD calls it speech)."""
    t = np.arange(int(seconds * RATE)) / RATE
    wave = sum(np.sin(2 * np.pi * frequency * k * t) / k for k in range(1, 8))
    return _pcm(wave / np.max(np.abs(wave)) * amplitude)


def noise(seconds: float, amplitude: float = 0.3, seed: int = 1) -> bytes:
    """White noise; loud noise counts as speech for WebRTC VAD, very quiet noise does not."""
    return _pcm(np.random.default_rng(seed).normal(0, amplitude / 3, int(seconds * RATE)))


def _pcm(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def chunks(audio: bytes, size: int = 3200) -> list[bytes]:
    """Split into `size`-byte pieces (100 ms at the default)."""
    return [audio[i:i + size] for i in range(0, len(audio), size)]


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, for comparing transcripts."""
    return re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()
