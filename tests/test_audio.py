"""PCM format checks, sample decoding and the streaming rate converter."""

import itertools

import numpy as np
import pytest

from nexus_wyoming.audio import MAX_RATE, PcmConverter, PcmFormat, to_float

TONE_HZ = 1000.0
AMPLITUDE = 0.5


# ---------------------------------------------------------------- PcmFormat.problem


@pytest.mark.parametrize("fmt, words", [
    (PcmFormat(0), ["rate", "0"]),
    (PcmFormat(-16000), ["rate"]),
    (PcmFormat(MAX_RATE + 1), ["rate", str(MAX_RATE + 1)]),
    (PcmFormat(16000, width=0), ["width", "0"]),
    (PcmFormat(16000, width=5), ["width", "5"]),
    (PcmFormat(16000, width=-2), ["width"]),
    (PcmFormat(16000, channels=0), ["channels", "0"]),
    (PcmFormat(16000, channels=9), ["channels", "9"]),
    (PcmFormat(16000.0), ["rate", "integer"]),
    (PcmFormat("16000"), ["rate", "integer"]),
    (PcmFormat(None), ["rate", "integer"]),
    (PcmFormat(True), ["rate", "integer"]),
    (PcmFormat(16000, width=2.0), ["width", "integer"]),
    (PcmFormat(16000, width=True), ["width", "integer"]),
    (PcmFormat(16000, channels=1.0), ["channels", "integer"]),
    (PcmFormat(16000, channels=False), ["channels", "integer"]),
])
def test_problem_names_the_bad_field(fmt, words):
    message = fmt.problem()
    assert message
    for word in words:
        assert word in message


@pytest.mark.parametrize("fmt", [
    PcmFormat(1), PcmFormat(8000), PcmFormat(16000), PcmFormat(22050), PcmFormat(MAX_RATE),
    PcmFormat(16000, width=1), PcmFormat(16000, width=3), PcmFormat(16000, width=4),
    PcmFormat(16000, channels=2), PcmFormat(16000, channels=8),
])
def test_problem_is_empty_for_good_formats(fmt):
    assert fmt.problem() == ""


@pytest.mark.parametrize("fmt, frame", [(PcmFormat(1, 1, 1), 1), (PcmFormat(1, 2, 1), 2),
                                        (PcmFormat(1, 3, 2), 6), (PcmFormat(1, 4, 8), 32)])
def test_frame_bytes(fmt, frame):
    assert fmt.frame_bytes == frame


# ---------------------------------------------------------------- to_float


def encode(values: list[int], width: int) -> bytes:
    if width == 1:
        return bytes(values)  # unsigned 8-bit
    return b"".join(v.to_bytes(width, "little", signed=True) for v in values)


@pytest.mark.parametrize("width, raw, expected", [
    (1, [0, 128, 192, 64, 255], [-1.0, 0.0, 0.5, -0.5, 127 / 128]),
    (2, [-32768, 0, 16384, -16384, 32767, 1], [-1.0, 0.0, 0.5, -0.5, 32767 / 32768, 1 / 32768]),
    (3, [-(1 << 23), 0, 1 << 22, -(1 << 22), -1, 1], [-1.0, 0.0, 0.5, -0.5, -1 / (1 << 23), 1 / (1 << 23)]),
    (4, [-(1 << 31), 0, 1 << 30, -(1 << 30), 1 << 16, -(1 << 16)], [-1.0, 0.0, 0.5, -0.5, 2.0 ** -15, -(2.0 ** -15)]),
])
def test_to_float_known_values(width, raw, expected):
    samples = to_float(encode(raw, width), PcmFormat(16000, width))
    assert samples.dtype == np.float32
    np.testing.assert_array_equal(samples, np.array(expected, dtype=np.float32))


@pytest.mark.parametrize("width, frames, expected", [
    (2, [(16384, -16384), (16384, 0), (-32768, -32768), (8192, 8192)], [0.0, 0.25, -1.0, 0.25]),
    (1, [(192, 64), (255, 255), (128, 192)], [0.0, 127 / 128, 0.25]),
    (3, [(1 << 22, 0), (-(1 << 23), 1 << 22)], [0.25, -0.25]),
    (4, [(1 << 30, 1 << 30), (-(1 << 31), 0)], [0.5, -0.5]),
])
def test_to_float_stereo_is_averaged_to_mono(width, frames, expected):
    raw = encode([v for frame in frames for v in frame], width)
    samples = to_float(raw, PcmFormat(16000, width, channels=2))
    np.testing.assert_array_equal(samples, np.array(expected, dtype=np.float32))


def test_to_float_many_channels_averaged():
    frame = [32767 // 4 * 4, 0, 0, 0]  # four channels, one carries the signal
    samples = to_float(encode(frame * 3, 2), PcmFormat(16000, 2, channels=4))
    np.testing.assert_allclose(samples, [frame[0] / 32768 / 4] * 3, rtol=1e-6)


@pytest.mark.parametrize("width, channels, extra", [(2, 1, 1), (3, 1, 2), (2, 2, 3), (4, 2, 7), (3, 2, 5)])
def test_to_float_drops_a_trailing_partial_frame(width, channels, extra):
    fmt = PcmFormat(16000, width, channels)
    whole = b"\x10" * (fmt.frame_bytes * 5)
    assert len(to_float(whole + b"\x7f" * extra, fmt)) == 5
    np.testing.assert_array_equal(to_float(whole + b"\x7f" * extra, fmt), to_float(whole, fmt))


def test_to_float_empty():
    assert len(to_float(b"", PcmFormat(16000))) == 0


# ---------------------------------------------------------------- PcmConverter


def sine_pcm(rate: int, seconds: float = 1.0, width: int = 2, channels: int = 1) -> bytes:
    n = int(rate * seconds)
    wave = AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * np.arange(n) / rate)
    if width == 1:
        ints = np.round(wave * 127 + 128).astype(np.uint8)
    else:
        scale = (1 << (8 * width - 1)) - 1
        ints = np.round(wave * scale).astype(np.int64)
    if channels > 1:
        ints = np.repeat(ints, channels)
    if width == 1:
        return ints.tobytes()
    return b"".join(int(v).to_bytes(width, "little", signed=True) for v in ints) if width == 3 \
        else ints.astype(f"<i{width}").tobytes()


def chunks(data: bytes, sizes=(37, 1001, 4096, 1, 3, 2, 5, 513)):
    """Odd-sized pieces that split sample frames, including one-byte ones."""
    offset = 0
    for size in itertools.cycle(sizes):
        if offset >= len(data):
            return
        yield data[offset:offset + size]
        offset += size


def pcm16(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float64)


def convert_chunked(source: PcmFormat, rate: int, data: bytes, sizes=(37, 1001, 4096, 1, 3, 2, 5, 513)) -> bytes:
    converter = PcmConverter(source, rate)
    out = b"".join(converter.convert(piece) for piece in chunks(data, sizes))
    return out


RESAMPLE_CASES = [
    (PcmFormat(44100), 22050),
    (PcmFormat(16000), 22050),
    (PcmFormat(48000), 16000),
    (PcmFormat(22050), 24000),
    (PcmFormat(24000, channels=2), 22050),
    (PcmFormat(48000, width=4, channels=2), 16000),
    (PcmFormat(32000, width=3), 22050),
    (PcmFormat(11025, width=1), 16000),
]
CASE_IDS = [f"{f.rate}w{f.width}c{f.channels}->{r}" for f, r in RESAMPLE_CASES]


@pytest.mark.parametrize("source, rate", RESAMPLE_CASES, ids=CASE_IDS)
def test_resampled_length_is_within_two_samples_of_exact(source, rate):
    data = sine_pcm(source.rate, 1.0, source.width, source.channels)
    out = convert_chunked(source, rate, data)
    assert len(out) % 2 == 0
    assert abs(len(out) // 2 - rate) <= 2


@pytest.mark.parametrize("source, rate", RESAMPLE_CASES, ids=CASE_IDS)
def test_chunked_conversion_equals_one_call_conversion(source, rate):
    data = sine_pcm(source.rate, 1.0, source.width, source.channels)
    whole = pcm16(PcmConverter(source, rate).convert(data))
    chunked = pcm16(convert_chunked(source, rate, data))
    assert abs(len(whole) - len(chunked)) <= 1
    n = min(len(whole), len(chunked))
    assert np.max(np.abs(whole[:n] - chunked[:n])) <= 2


@pytest.mark.parametrize("source, rate", RESAMPLE_CASES, ids=CASE_IDS)
def test_chunk_edges_add_no_jumps(source, rate):
    data = sine_pcm(source.rate, 1.0, source.width, source.channels)
    out = pcm16(convert_chunked(source, rate, data))
    clean = AMPLITUDE * 32767 * np.sin(2 * np.pi * TONE_HZ * np.arange(len(out)) / rate)
    clean_step = np.max(np.abs(np.diff(clean)))
    step = np.max(np.abs(np.diff(out)))
    assert step <= clean_step * 1.02 + 4, (step, clean_step)


@pytest.mark.parametrize("source, rate", RESAMPLE_CASES, ids=CASE_IDS)
def test_output_follows_the_ideal_sine_without_drift(source, rate):
    """Every output sample sits at time k / rate: a dropped or repeated sample shifts the phase."""
    data = sine_pcm(source.rate, 1.0, source.width, source.channels)
    out = pcm16(convert_chunked(source, rate, data))
    ideal = AMPLITUDE * 32767 * np.sin(2 * np.pi * TONE_HZ * np.arange(len(out)) / rate)
    # Linear interpolation error bound: A * (2 pi f / fs)^2 / 8, plus quantisation.
    interp = AMPLITUDE * 32767 * (2 * np.pi * TONE_HZ / source.rate) ** 2 / 8
    quant = 32767 / 127 if source.width == 1 else 4
    assert np.max(np.abs(out - ideal)) <= interp * 1.1 + quant + 2


@pytest.mark.parametrize("source, rate", RESAMPLE_CASES, ids=CASE_IDS)
def test_dominant_frequency_is_the_tone(source, rate):
    data = sine_pcm(source.rate, 1.0, source.width, source.channels)
    out = pcm16(convert_chunked(source, rate, data))
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    peak_hz = np.argmax(spectrum) * rate / len(out)
    assert abs(peak_hz - TONE_HZ) <= 2
    # And it is a tone, not noise: the peak region holds nearly all the energy.
    bins = np.fft.rfftfreq(len(out), 1 / rate)
    near = np.abs(bins - TONE_HZ) <= 20
    assert np.sum(spectrum[near] ** 2) / np.sum(spectrum ** 2) > 0.99


@pytest.mark.parametrize("sizes", [(37, 1001, 4096), (1,)], ids=str)
def test_same_rate_16_bit_mono_is_identity(sizes):
    rng = np.random.default_rng(1)
    samples = rng.integers(-32768, 32768, 5000).astype("<i2")
    samples[:4] = [-32768, 32767, 1, -1]
    data = samples.tobytes()
    out = convert_chunked(PcmFormat(16000), 16000, data, sizes)
    np.testing.assert_array_equal(np.frombuffer(out, "<i2"), samples)


def test_same_rate_stereo_becomes_mono_keeping_the_rate():
    data = sine_pcm(16000, 0.5, 2, 2)
    out = pcm16(convert_chunked(PcmFormat(16000, 2, 2), 16000, data))
    mono = pcm16(sine_pcm(16000, 0.5, 2, 1))
    assert len(out) == len(mono)
    assert np.max(np.abs(out - mono)) <= 1


def test_trailing_partial_frame_is_kept_for_the_next_chunk():
    converter = PcmConverter(PcmFormat(16000), 16000)
    sample = (12345).to_bytes(2, "little", signed=True)
    assert converter.convert(sample[:1]) == b""
    out = converter.convert(sample[1:])
    assert len(out) == 2
    assert abs(int.from_bytes(out, "little", signed=True) - 12345) <= 1


def test_empty_chunks_produce_nothing_and_break_nothing():
    source, rate = PcmFormat(44100), 22050
    data = sine_pcm(44100, 0.2)
    converter = PcmConverter(source, rate)
    out = b""
    for piece in chunks(data, (1001,)):
        out += converter.convert(b"") + converter.convert(piece)
    expected = PcmConverter(source, rate).convert(data)
    assert abs(len(out) - len(expected)) <= 2
    n = min(len(out), len(expected)) // 2 * 2
    assert np.max(np.abs(pcm16(out[:n]) - pcm16(expected[:n]))) <= 2


def test_long_stream_keeps_time_over_many_chunks():
    """Ten seconds in 100-byte pieces: the fractional position must not drift."""
    source, rate = PcmFormat(44100), 16000
    data = sine_pcm(44100, 10.0)
    out = pcm16(convert_chunked(source, rate, data, (100, 101, 99)))
    assert abs(len(out) - 10 * rate) <= 2
    tail = np.arange(len(out) - 2000, len(out))
    ideal = AMPLITUDE * 32767 * np.sin(2 * np.pi * TONE_HZ * tail / rate)
    assert np.max(np.abs(out[-2000:] - ideal)) <= 60
