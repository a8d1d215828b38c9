"""Per-frame signal processing on the device: high-pass, soft noise gate, speex cleanup.

Every stage keeps its state between frames, so a stream cut into frames sounds the
same as the stream processed whole: no clicks at frame edges (the seed zeroed FFT
bins per chunk, which clicked).
"""

import importlib.util
from typing import Optional

import numpy as np

RATE = 16_000
#: Samples per block of the block recursion (a frame of 30 ms at 16 kHz is 480 = 6 blocks).
_BLOCK = 80


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
    """One section: its FIR numerator by np.convolve, then its poles block by block.

    With the all-pole part y[n] = v[n] - a1 y[n-1] - a2 y[n-2], a block of L samples is
    y = T v + Q (y[-1], y[-2]): T (L x L) is the impulse response, Q the response to the two
    previous outputs. All blocks' T v in one matrix product; only the two carried outputs
    go from block to block, in plain floats.
    """

    def __init__(self, row: np.ndarray, block: int = _BLOCK) -> None:
        self.b = row[:3] if row[5] != 0.0 else row[:2]
        a1, a2 = float(row[4]), float(row[5])
        response = np.zeros(block + 2)  # y[-2], y[-1], y[0..]: the impulse response from v[0] = 1
        start = np.zeros((block + 2, 2))
        start[0, 1] = start[1, 0] = 1.0  # columns: the output one step back, two steps back
        response[2] = 1.0
        for n in range(3, block + 2):
            response[n] = -a1 * response[n - 1] - a2 * response[n - 2]
        for n in range(2, block + 2):
            start[n] = -a1 * start[n - 1] - a2 * start[n - 2]
        toeplitz = np.zeros((block, block))
        for k in range(block):
            toeplitz[k:, k] = response[2:block + 2 - k]
        self.tt = np.ascontiguousarray(toeplitz.T)  # blocks @ tt = each block through T
        self.qt = np.ascontiguousarray(start[2:].T)  # (2, L)
        self.q_last = [tuple(start[-1]), tuple(start[-2])]  # rows of Q for the block's last two outputs
        self.block = block
        self.x = np.zeros(len(self.b) - 1)
        self.y1 = self.y2 = 0.0

    def process(self, x: np.ndarray) -> np.ndarray:
        n, block = len(x), self.block
        history = np.concatenate((self.x, x))
        self.x = history[len(history) - len(self.x):]
        v = np.convolve(history, self.b, "valid")
        blocks = -(-n // block)
        if blocks * block != n:
            v = np.concatenate((v, np.zeros(blocks * block - n)))
        z = v.reshape(blocks, block) @ self.tt
        (l1, l2), (m1, m2) = self.q_last
        states, y1, y2 = [], self.y1, self.y2
        for before, last in z[:, -2:].tolist():
            states.append((y1, y2))
            y1, y2 = last + l1 * y1 + l2 * y2, before + m1 * y1 + m2 * y2
        z += np.array(states) @ self.qt
        y = z.ravel()[:n]
        if n >= 2:
            self.y1, self.y2 = float(y[-1]), float(y[-2])
        else:
            self.y1, self.y2 = float(y[-1]), self.y1
        return y

    def reset(self) -> None:
        self.x[:] = 0.0
        self.y1 = self.y2 = 0.0


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
