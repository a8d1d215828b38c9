"""Short local sounds: an error tone when a server is unreachable, a timer chime."""

import numpy as np

from nexus_wyoming.audio import PcmFormat

RATE = 22_050
FORMAT = PcmFormat(RATE)


def beeps(freqs: list[float], beep_s: float = 0.12, gap_s: float = 0.06, level: float = 0.3) -> bytes:
    """Sine beeps with 10 ms fades (a tone must not click either)."""
    t = np.arange(int(beep_s * RATE)) / RATE
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.010)
    gap = np.zeros(int(gap_s * RATE))
    parts = []
    for freq in freqs:
        parts += [level * fade * np.sin(2 * np.pi * freq * t), gap]
    return (np.concatenate(parts) * 32767).astype("<i2").tobytes()


ERROR_TONE = beeps([660.0, 440.0], beep_s=0.15)
TIMER_TONE = beeps([880.0, 880.0, 880.0], beep_s=0.1)
