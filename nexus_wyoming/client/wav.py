"""WAV input for the client: any PCM or float WAV (extensible ones too), and a clear word on anything else.

Python's `wave` refuses WAVE_FORMAT_EXTENSIBLE files (what many recorders and editors
write), so the RIFF chunks are read here; a FLAC or MP3 renamed or not is named as such.
"""

import shlex
import struct
from pathlib import Path

import numpy as np
from wyoming.audio import AudioStart

from ..audio import PcmFormat, to_int16
from .connection import ClientError

PCM, FLOAT, EXTENSIBLE = 1, 3, 0xFFFE

#: Leading bytes of audio files that are not WAV, and what to call them.
_SIGNATURES = (
    (b"fLaC", "a FLAC file"),
    (b"OggS", "an Ogg file (Vorbis or Opus)"),
    (b"ID3", "an MP3 file"),
    (b"\x1a\x45\xdf\xa3", "a Matroska/WebM file"),
    (b"FORM", "an AIFF file"),
    (b"caff", "a CAF file"),
    (b"#!AMR", "an AMR file"),
)


def read_wav(path: Path) -> tuple[AudioStart, bytes]:
    """PCM and its format from a WAV file; float samples become 16-bit."""
    data = path.read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ClientError(_not_wav(path, data))
    chunks = _chunks(data)
    if b"fmt " not in chunks or len(chunks[b"fmt "]) < 16 or b"data" not in chunks:
        raise ClientError(f"{path}: a WAV file without its 'fmt ' or 'data' chunk (truncated?)")
    fmt = chunks[b"fmt "]
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]  # the SubFormat GUID starts with the real tag
    audio = chunks[b"data"]
    if tag == FLOAT and bits in (32, 64):
        samples = np.frombuffer(audio, dtype=f"<f{bits // 8}", count=len(audio) // (bits // 8))
        audio, bits = to_int16(samples), 16
    elif tag != PCM or bits not in (8, 16, 24, 32):
        raise ClientError(f"{path}: {bits}-bit audio in WAV format {tag} is neither integer PCM nor float; "
                          f"convert it: {_ffmpeg(path)}")
    pcm = PcmFormat(rate, bits // 8, channels)
    if pcm.problem():
        raise ClientError(f"{path}: unusable WAV format: {pcm.problem()}")
    return AudioStart(rate=rate, width=pcm.width, channels=channels), audio[: len(audio) - len(audio) % pcm.frame_bytes]


def _chunks(data: bytes) -> dict[bytes, bytes]:
    """First chunk of each id; a size past the end (a streamed WAV) means "up to the end"."""
    chunks: dict[bytes, bytes] = {}
    offset = 12
    while offset + 8 <= len(data):
        name, size = struct.unpack_from("<4sI", data, offset)
        chunks.setdefault(name, data[offset + 8 : offset + 8 + size])
        offset += 8 + size + size % 2
    return chunks


def _not_wav(path: Path, data: bytes) -> str:
    for magic, what in _SIGNATURES:
        if data.startswith(magic):
            return f"{path} is {what}, not a WAV file; convert it: {_ffmpeg(path)}"
    if data[4:8] == b"ftyp":
        return f"{path} is an MP4/M4A file, not a WAV file; convert it: {_ffmpeg(path)}"
    if len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        return f"{path} is MPEG audio (MP3 or AAC), not a WAV file; convert it: {_ffmpeg(path)}"
    if not data:
        return f"{path} is empty, not a WAV file"
    if b"\0" not in data[:1024] and _is_text(data[:1024]):
        return f"{path} is a text file, not a WAV file"
    return f"{path} is not a WAV file (it starts with {data[:8]!r})"


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start >= len(head) - 3  # a character cut at the end of the sample
    return True


def _ffmpeg(path: Path) -> str:
    return f"ffmpeg -i {shlex.quote(str(path))} -ar 16000 -ac 1 out.wav"
