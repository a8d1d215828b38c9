"""Per-frame signal processing on the device: high-pass, soft noise gate, speex cleanup.

Every stage keeps its state between frames, so a stream cut into frames sounds the
same as the stream processed whole: no clicks at frame edges (the seed zeroed FFT
bins per chunk, which clicked).
"""

import importlib.util
from typing import Callable, Optional

import numpy as np
from scipy.signal import butter, sosfilt

RATE = 16_000

try:  # sosfilt's compiled kernel: same arithmetic, without ~25 µs of argument checks per call
    from scipy.signal._sosfilt import _sosfilt as _sos_kernel
except ImportError:  # pragma: no cover - other scipy layouts fall back to the public call
    _sos_kernel = None


class HighPass:
    """Butterworth high-pass (second-order sections), filter state carried across frames."""

    def __init__(self, cutoff_hz: float, order: int = 4, rate: int = RATE) -> None:
        self.sos = np.ascontiguousarray(butter(order, cutoff_hz, "highpass", fs=rate, output="sos"))
        self._zi = np.zeros((self.sos.shape[0], 1, 2))
        self._run: Callable[[np.ndarray], np.ndarray] = self._public
        if _sos_kernel is not None and self._kernel_agrees():
            self._run = self._kernel

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Filter the next block of float samples; returns float64 samples."""
        return self._run(samples)

    def reset(self) -> None:
        """Forget the filter state (a new, unrelated stream)."""
        self._zi[:] = 0.0

    def _public(self, samples: np.ndarray) -> np.ndarray:
        out, zi = sosfilt(self.sos, samples, zi=self._zi[:, 0, :])
        self._zi[:, 0, :] = zi
        return out

    def _kernel(self, samples: np.ndarray) -> np.ndarray:
        block = np.array(samples, dtype=np.float64, ndmin=2)  # the kernel filters in place
        _sos_kernel(self.sos, block, self._zi)
        return block[0]

    def _kernel_agrees(self) -> bool:
        """Use the private kernel only if it gives sosfilt's answer on this scipy."""
        probe = np.sin(np.arange(256) * 0.05) + np.random.default_rng(0).normal(0, 0.1, 256)
        try:
            got = self._kernel(probe[:128]), self._kernel(probe[128:])
        except Exception:  # noqa: BLE001 - any signature change means "don't use it"
            got = None
        self.reset()
        if got is None:
            return False
        return bool(np.allclose(np.concatenate(got), sosfilt(self.sos, probe), atol=1e-9))


class SoftGate:
    """Quiet frames (RMS under `threshold`) are turned down to `floor`, never switched off.

    The gain moves towards its target at a bounded rate (opening within `attack_ms`,
    closing within `release_ms`), sample by sample, so it cannot click.
    """

    def __init__(self, threshold: float = 0.008, floor: float = 0.2, attack_ms: float = 5.0,
                 release_ms: float = 50.0, rate: int = RATE) -> None:
        self.threshold = threshold
        self.floor = floor
        span = 1.0 - floor
        self.up_step = span / max(1.0, attack_ms * rate / 1000)
        self.down_step = span / max(1.0, release_ms * rate / 1000)
        self.gain = 1.0

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Gate one frame of float samples."""
        if not len(samples):
            return samples
        rms = float(np.sqrt(np.dot(samples, samples) / len(samples)))
        target = self.floor if rms < self.threshold else 1.0
        if target == self.gain:
            return samples * target if target != 1.0 else samples
        step = self.up_step if target > self.gain else -self.down_step
        ramp = self.gain + step * np.arange(1, len(samples) + 1)
        ramp = np.minimum(ramp, target) if step > 0 else np.maximum(ramp, target)
        self.gain = float(ramp[-1])
        return samples * ramp


class SpeexCleaner:
    """Speex noise suppression and auto gain (pyspeex-noise, as Home Assistant uses), 10 ms at a time."""

    BLOCK = RATE // 100 * 2  # 10 ms of 16-bit samples

    def __init__(self, noise_suppression_db: int, auto_gain: int) -> None:
        from pyspeex_noise import AudioProcessor  # optional extra: imported only when enabled

        self._processor = AudioProcessor(auto_gain, noise_suppression_db)

    def process(self, pcm: bytes) -> bytes:
        """Clean a frame of 16 kHz 16-bit mono PCM whose length is a multiple of 10 ms."""
        block = self.BLOCK
        return b"".join(self._processor.process_10ms(pcm[i:i + block]) for i in range(0, len(pcm), block))


def speex_available() -> bool:
    """True when the optional pyspeex-noise package is installed."""
    return importlib.util.find_spec("pyspeex_noise") is not None


def make_speex(enabled: bool, noise_suppression_db: int, auto_gain: int) -> Optional[SpeexCleaner]:
    """A SpeexCleaner when enabled; a clear error when the package is missing."""
    if not enabled:
        return None
    if not speex_available():
        raise RuntimeError("frontend.speex is enabled but pyspeex-noise is not installed: "
                           "pip install 'nexus-wyoming[speex]'")
    return SpeexCleaner(noise_suppression_db, auto_gain)
