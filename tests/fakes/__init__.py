"""Local stand-ins for cloud vendors, speaking their real wire formats, for tests and benchmarks."""

import math
import sys
import zlib
from array import array

#: How long a fake "speaks" per character of text.
SECONDS_PER_CHAR = 0.05


def tone(text: str, rate: int) -> bytes:
    """The 16-bit little-endian PCM a fake answers for `text`: its own pitch, its own length."""
    samples = int(len(text) * SECONDS_PER_CHAR * rate)
    pitch = 200 + zlib.crc32(text.encode("utf-8")) % 600
    step = 2 * math.pi * pitch / rate
    pcm = array("h", (int(8000 * math.sin(step * i)) for i in range(samples)))
    if sys.byteorder == "big":
        pcm.byteswap()
    return pcm.tobytes()
