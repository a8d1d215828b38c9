"""Headless Chromium for page tests: the rendered DOM, a screenshot, and a look at the PNG's pixels."""

import asyncio
import shutil
import struct
import zlib
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,900", "--virtual-time-budget=5000"]


def chromium() -> str:
    """The Chromium binary (Debian package `chromium`, installed by test.sh)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is not installed: run ./test.sh, which installs it with apt"
    return found


async def _run(args: list[str], timeout: float) -> str:
    proc = await asyncio.create_subprocess_exec(chromium(), *FLAGS, *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, f"chromium exited with {proc.returncode}: {err.decode(errors='replace')[-2000:]}"
    return out.decode()


async def dump_dom(url: str, profile: Path, timeout: float = 90) -> str:
    """The DOM after the page's scripts ran (5 s of virtual time)."""
    return await _run([f"--user-data-dir={profile}", "--dump-dom", url], timeout)


async def screenshot(url: str, profile: Path, out: Path, timeout: float = 90) -> Path:
    """A 1280x900 PNG of the page."""
    await _run([f"--user-data-dir={profile}", f"--screenshot={out}", url], timeout)
    return out


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> list[bytearray]:
    """PNG scanline filters undone (None, Sub, Up, Average, Paeth)."""
    stride, rows, prior = width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prior[i], prior[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(line)
        prior = line
    return rows


def png_colours(path: Path, step: int = 4) -> tuple[int, int, int]:
    """(width, height, distinct colours on a grid of every `step`-th pixel) of an 8-bit RGB(A) PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks = 8, {}
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.setdefault(kind, bytearray()).extend(data[pos + 8:pos + 8 + length])
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", bytes(chunks[b"IHDR"]))
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, "unexpected PNG format"
    bpp = 3 if colour_type == 2 else 4
    rows = _unfilter(zlib.decompress(bytes(chunks[b"IDAT"])), width, height, bpp)
    colours = {bytes(row[x * bpp:(x + 1) * bpp]) for row in rows[::step] for x in range(0, width, step)}
    return width, height, len(colours)
