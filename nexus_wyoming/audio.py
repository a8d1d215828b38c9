"""PCM format checks and streaming conversion (rate, width, channels).

Used wherever audio from one source must join a stream of another format: a TTS
fallback engine with a different rate, or a client's microphone format for STT.
"""

from dataclasses import dataclass

import numpy as np
import soxr

MAX_RATE = 192_000


@dataclass(frozen=True)
class PcmFormat:
    """Rate in Hz, width in bytes per sample, channel count."""

    rate: int
    width: int = 2
    channels: int = 1

    def problem(self) -> str:
        """Why this format is unusable, or '' when it is fine."""
        for name in ("rate", "width", "channels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                return f"{name} must be an integer"
        if not 0 < self.rate <= MAX_RATE:
            return f"rate {self.rate} is outside 1..{MAX_RATE} Hz"
        if not 1 <= self.width <= 4:
            return f"width {self.width} is outside 1..4 bytes"
        if not 1 <= self.channels <= 8:
            return f"channels {self.channels} is outside 1..8"
        return ""

    @property
    def frame_bytes(self) -> int:
        """Bytes per sample frame (all channels)."""
        return self.width * self.channels


def to_float(audio: bytes, fmt: PcmFormat) -> np.ndarray:
    """Little-endian PCM → mono float32 in [-1, 1]; a trailing partial frame is dropped."""
    usable = len(audio) - len(audio) % fmt.frame_bytes
    raw = np.frombuffer(audio, dtype=np.uint8, count=usable)
    if fmt.width == 1:
        samples = (raw.astype(np.float32) - 128.0) / 128.0
    elif fmt.width == 2:
        samples = raw.view("<i2").astype(np.float32) / 32768.0
    elif fmt.width == 3:
        triples = raw.reshape(-1, 3).astype(np.int32)
        value = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        samples = np.where(value >= 1 << 23, value - (1 << 24), value).astype(np.float32) / float(1 << 23)
    else:
        samples = raw.view("<i4").astype(np.float32) / float(1 << 31)
    if fmt.channels > 1:
        samples = samples.reshape(-1, fmt.channels).mean(axis=1)
    return samples


def to_int16(samples: np.ndarray) -> bytes:
    """Float samples → 16-bit little-endian PCM, rounded and clipped (inverse of to_float)."""
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2").tobytes()


class PcmConverter:
    """Converts a chunked stream to 16-bit mono at `rate`, continuous across chunks.

    A rate change goes through soxr's streaming resampler (HQ: linear phase, stop band
    from the lower Nyquist frequency, so nothing aliases), its state carried across chunks.
    It holds back some output (HQ, 10 ms chunks: ~20 ms on average, under 40 ms), which
    `flush` releases at the end of a stream. Partial frames wait for the next chunk.
    """

    QUALITY = "HQ"

    def __init__(self, source: PcmFormat, rate: int) -> None:
        self.source = source
        self.rate = rate
        self._stream = None if source.rate == rate else soxr.ResampleStream(
            source.rate, rate, 1, dtype="float32", quality=self.QUALITY)
        self._partial = b""

    def convert(self, audio: bytes) -> bytes:
        """Convert the next chunk; with a rate change, output lags the input a little."""
        audio = self._partial + audio
        cut = len(audio) - len(audio) % self.source.frame_bytes
        self._partial = audio[cut:]
        samples = to_float(audio[:cut], self.source)
        if self._stream is not None:
            samples = self._stream.resample_chunk(samples)
        return to_int16(samples)

    def flush(self) -> bytes:
        """The output still held back, at the end of a stream; the converter then starts afresh."""
        self._partial = b""
        if self._stream is None:
            return b""
        tail = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        self._stream.clear()
        return to_int16(tail)


def convert_all(audio: bytes, source: PcmFormat, rate: int) -> bytes:
    """A whole recording converted in one go (`convert` then `flush`)."""
    converter = PcmConverter(source, rate)
    return converter.convert(audio) + converter.flush()
