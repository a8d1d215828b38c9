"""WAV input: extensible and float WAVs are read and sent exactly; FLAC, MP3, Ogg and text are named."""

import struct
import wave

import numpy as np
import pytest
from wyoming.event import Event

from tests.client.support import ASR_INFO, FLOAT, PCM, FakeServer, FakeWyoming, client, riff


def transcribe_with_fake(path):
    """Run `transcribe` against a fake ASR; returns the CLI result and what the server received."""
    transcript = Event("transcript", {"text": "ok"})
    asr = FakeWyoming(ASR_INFO, replies={"audio-stop": [transcript]})
    with FakeServer(asr) as server:
        result = client("transcribe", server.uri, str(path), "--fast", "--json", "--timeout", "10", timeout=60)
    return result, asr


INT16 = struct.pack("<4h", 0, 1000, -1000, 32767)
INT24 = b"".join(v.to_bytes(3, "little", signed=True) for v in (0, 1 << 20, -(1 << 20), (1 << 23) - 1))
INT32 = struct.pack("<4i", 0, 1 << 28, -(1 << 28), (1 << 31) - 1)


@pytest.mark.parametrize("bits, samples, channels", [(16, INT16, 1), (24, INT24, 1), (32, INT32, 1), (16, INT16, 2)])
def test_an_extensible_integer_wav_is_sent_as_it_is(tmp_path, bits, samples, channels):
    path = tmp_path / "extensible.wav"
    path.write_bytes(riff(PCM, bits, channels, 16000, samples * 400, extensible=True))
    with pytest.raises(wave.Error, match="65534"):
        wave.open(str(path))  # what the client used to stumble on
    result, asr = transcribe_with_fake(path)
    assert result.returncode == 0, result.stderr
    start = next(e for e in asr.received if e.type == "audio-start")
    assert (start.data["rate"], start.data["width"], start.data["channels"]) == (16000, bits // 8, channels)
    assert asr.audio() == samples * 400


@pytest.mark.parametrize("extensible", [False, True])
def test_a_float_wav_becomes_16_bit(tmp_path, extensible):
    path = tmp_path / "float.wav"
    path.write_bytes(riff(FLOAT, 32, 1, 22050, np.array([0.0, 0.5, -0.5, 1.0, -1.0], "<f4").tobytes() * 300, extensible))
    result, asr = transcribe_with_fake(path)
    assert result.returncode == 0, result.stderr
    start = next(e for e in asr.received if e.type == "audio-start")
    assert (start.data["rate"], start.data["width"], start.data["channels"]) == (22050, 2, 1)
    assert asr.audio() == struct.pack("<5h", 0, 16384, -16384, 32767, -32768) * 300


@pytest.mark.parametrize("name, head, what", [
    ("voice.flac", b"fLaC\0\0\0\x22", "a FLAC file"),
    ("voice.mp3", b"ID3\x04\0\0\0\0\0\x23", "an MP3 file"),
    ("voice.wav", b"\xff\xfb\x90\x64\0\0", "MPEG audio (MP3 or AAC)"),
    ("voice.ogg", b"OggS\0\x02\0\0", "an Ogg file (Vorbis or Opus)"),
])
def test_compressed_audio_is_named_with_the_ffmpeg_line(tmp_path, name, head, what):
    path = tmp_path / name
    path.write_bytes(head + bytes(4000))
    asr = FakeWyoming(ASR_INFO)
    with FakeServer(asr) as server:
        result = client("transcribe", server.uri, str(path), timeout=30)
    assert result.returncode == 1 and not result.stdout
    assert result.stderr == f"Error: {path} is {what}, not a WAV file; convert it: ffmpeg -i {path} -ar 16000 -ac 1 out.wav\n"
    assert server.connections == 0  # the file is checked before any server is bothered


def test_a_text_file_named_wav_is_named_in_the_pipeline_too(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("Turn on the kitchen lights.\n")
    with FakeServer(FakeWyoming(ASR_INFO)) as server:
        result = client("pipeline", "--stt", server.uri, "--intent", server.uri, "--tts", server.uri, str(path), timeout=30)
    assert (result.returncode, result.stderr) == (1, f"Error: {path} is a text file, not a WAV file\n")
    assert server.connections == 0


def test_a_wav_of_another_encoding_is_refused_with_the_ffmpeg_line(tmp_path):
    path = tmp_path / "alaw.wav"
    path.write_bytes(riff(6, 8, 1, 8000, bytes(800), extensible=False))  # G.711 A-law
    result = client("transcribe", "tcp://127.0.0.1:9", str(path), timeout=30)
    assert (result.returncode, result.stderr) == (1, f"Error: {path}: 8-bit audio in WAV format 6 is neither integer PCM "
                                                     f"nor float; convert it: ffmpeg -i {path} -ar 16000 -ac 1 out.wav\n")
