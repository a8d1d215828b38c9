"""Per-frame signal processing on the device: high-pass, soft noise gate, speex cleanup.

Every stage keeps its state between frames, so a stream cut into frames sounds the
same as the stream processed whole: no clicks at frame edges (the seed zeroed FFT
bins per chunk, which clicked).
"""

import importlib.util
from typing import Optional

import numpy as np

RATE = 16_000
#: Largest |p|**-n a block may reach: it bounds the rounding error of the block sums (~1e-12).
_GROWTH = 1e3
_MAX_BLOCK = 128


def butterworth_highpass(order: int, cutoff_hz: float, rate: int) -> np.ndarray:
    """Second-order sections [b0 b1 b2 1 a1 a2] of a digital Butterworth high-pass.

    As scipy.signal.butter designs it: the analog prototype's poles, the cutoff prewarped,
    s → wc/s for the high-pass, then the bilinear transform; each section has unit gain at
    Nyquist. An odd order ends with a first-order section (b2 = a2 = 0).
    """
    fs2 = 2.0 * rate
    wc = fs2 * np.tan(np.pi * cutoff_hz / rate)
    k = np.arange(order)
    analog = np.exp(1j * np.pi * (2 * k + order + 1) / (2 * order))  # left half plane, |s| = 1
    poles = (fs2 + wc / analog) / (fs2 - wc / analog)
    sections = []
    for pole in sorted(poles[poles.imag > 1e-12], key=lambda z: abs(z)):
        a1, a2 = -2.0 * pole.real, abs(pole) ** 2
        gain = (1.0 - a1 + a2) / 4.0  # |A(-1)| / |B(-1)|: 1 at Nyquist
        sections.append([gain, -2.0 * gain, gain, 1.0, a1, a2])
    if order % 2:
        pole = float(poles[np.argmin(np.abs(poles.imag))].real)
        gain = (1.0 + pole) / 2.0
        sections.append([gain, -gain, 0.0, 1.0, -pole, 0.0])
    return np.array(sections)


class _Section:
    """One section: FIR numerator, then its poles as a complex one-pole recursion, by blocks.

    1 / ((1 - p z⁻¹)(1 - p̄ z⁻¹)) = A / (1 - p z⁻¹) + Ā / (1 - p̄ z⁻¹), A = p / (p - p̄); with
    w[n] = v[n] + p w[n-1] the output is 2 Re(A w). In a block, w[n] = pⁿ (Σₖ≤ₙ v[k] p⁻ᵏ + p w₋₁):
    one cumsum per block, and only the block-start states are carried one by one.
    """

    def __init__(self, row: np.ndarray) -> None:
        second = row[5] != 0.0
        self.b = row[:3] if second else row[:2]
        if second:
            pole = complex(-row[4] / 2, np.sqrt(max(row[5] - row[4] ** 2 / 4, 0.0)))
            self.scale = 2 * pole / (pole - pole.conjugate())
        else:
            pole, self.scale = complex(-row[4], 0.0), 1.0
        self.pole = pole
        length = int(min(_MAX_BLOCK, max(1, np.log(_GROWTH) // -np.log(max(abs(pole), 1e-3)))))
        n = np.arange(length)
        self.up, self.down = pole ** n, pole ** -n
        self.last_up = complex(self.up[-1])
        self.x = np.zeros(len(self.b) - 1)
        self.w = 0j

    def process(self, x: np.ndarray) -> np.ndarray:
        n, length = len(x), len(self.up)
        history = np.concatenate((self.x, x))
        self.x = history[len(history) - len(self.x):]
        v = np.convolve(history, self.b, "valid")
        blocks = -(-n // length)
        if blocks * length != n:
            v = np.concatenate((v, np.zeros(blocks * length - n)))
        sums = np.cumsum(v.reshape(blocks, length) * self.down, axis=1)
        starts, state, pole, last_up = [], self.w, self.pole, self.last_up
        for total in sums[:, -1].tolist():
            starts.append(state)
            state = last_up * (total + pole * state)
        w = (self.up * (sums + pole * np.array(starts)[:, None])).ravel()[:n]
        self.w = complex(w[-1])
        return (self.scale * w).real

    def reset(self) -> None:
        self.x[:] = 0.0
        self.w = 0j


class HighPass:
    """Butterworth high-pass (second-order sections), filter state carried across frames; numpy only."""

    def __init__(self, cutoff_hz: float, order: int = 4, rate: int = RATE) -> None:
        self.sos = butterworth_highpass(order, cutoff_hz, rate)
        self._sections = [_Section(row) for row in self.sos]

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Filter the next block of float samples; returns float64 samples."""
        out = np.asarray(samples, dtype=np.float64)
        if not len(out):
            return out.copy()
        for section in self._sections:
            out = section.process(out)
        return out

    def reset(self) -> None:
        """Forget the filter state (a new, unrelated stream)."""
        for section in self._sections:
            section.reset()


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
