"""PCM format checks, sample decoding and the streaming rate converter."""

import itertools

import numpy as np
import pytest

from nexus_wyoming.audio import MAX_RATE, PcmConverter, PcmFormat, convert_all, to_float, to_int16

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


def random_sizes(seed: int, high: int = 6000) -> list[int]:
    return [int(s) for s in np.random.default_rng(seed).integers(1, high, 200)]


def pcm16(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float64)


def convert_chunked(source: PcmFormat, rate: int, data: bytes, sizes=(37, 1001, 4096, 1, 3, 2, 5, 513)) -> bytes:
    converter = PcmConverter(source, rate)
    out = b"".join(converter.convert(piece) for piece in chunks(data, sizes))
    return out + converter.flush()


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
EDGE_S = 0.01  # a tone switched on abruptly rings for a few ms through any band-limiting filter


@pytest.mark.parametrize("source, rate", RESAMPLE_CASES, ids=CASE_IDS)
def test_resampled_length_is_within_one_sample_of_exact(source, rate):
    data = sine_pcm(source.rate, 1.0, source.width, source.channels)
    out = convert_chunked(source, rate, data)
    assert len(out) % 2 == 0
    assert abs(len(out) // 2 - rate) <= 1


@pytest.mark.parametrize("source, rate", RESAMPLE_CASES, ids=CASE_IDS)
@pytest.mark.parametrize("seed", [1, 2])
def test_chunked_conversion_equals_one_call_conversion(source, rate, seed):
    data = sine_pcm(source.rate, 1.0, source.width, source.channels)
    whole = pcm16(convert_all(data, source, rate))
    chunked = pcm16(convert_chunked(source, rate, data, random_sizes(seed)))
    assert len(whole) == len(chunked)
    assert np.max(np.abs(whole - chunked)) <= 1


@pytest.mark.parametrize("source, rate", RESAMPLE_CASES, ids=CASE_IDS)
def test_chunk_edges_add_no_jumps(source, rate):
    data = sine_pcm(source.rate, 1.0, source.width, source.channels)
    edge = int(EDGE_S * rate)
    out = pcm16(convert_chunked(source, rate, data))[edge:-edge]
    clean = AMPLITUDE * 32767 * np.sin(2 * np.pi * TONE_HZ * np.arange(len(out)) / rate)
    clean_step = np.max(np.abs(np.diff(clean)))
    step = np.max(np.abs(np.diff(out)))
    noise = 32767 / 127 if source.width == 1 else 4  # 8-bit rounding noise, band-limited
    assert step <= clean_step * 1.01 + noise, (step, clean_step)


@pytest.mark.parametrize("source, rate", RESAMPLE_CASES, ids=CASE_IDS)
def test_output_follows_the_ideal_sine_without_drift(source, rate):
    """Every output sample sits at time k / rate: a dropped or repeated sample shifts the phase."""
    data = sine_pcm(source.rate, 1.0, source.width, source.channels)
    out = pcm16(convert_chunked(source, rate, data))
    ideal = AMPLITUDE * 32767 * np.sin(2 * np.pi * TONE_HZ * np.arange(len(out)) / rate)
    edge = int(EDGE_S * rate)
    # the source's own rounding, band-limited (its peaks can pass half a step), then ours
    quant = 1.5 * 32767 / 127 if source.width == 1 else 2
    assert np.max(np.abs(out - ideal)[edge:-edge]) <= quant + 2


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
    out += converter.flush()
    expected = convert_all(data, source, rate)
    assert len(out) == len(expected)
    assert np.max(np.abs(pcm16(out) - pcm16(expected))) <= 1


def test_after_a_flush_the_converter_starts_a_fresh_stream():
    source, rate = PcmFormat(48000), 16000
    data = sine_pcm(48000, 0.3)
    converter = PcmConverter(source, rate)
    first = converter.convert(data) + converter.flush()
    second = converter.convert(data) + converter.flush()
    assert first == second == convert_all(data, source, rate)


def test_a_minute_in_random_chunks_keeps_time():
    """60 s in random pieces: exactly the right number of samples, the tone still in phase at the end."""
    source, rate = PcmFormat(48000), 16000
    data = sine_pcm(48000, 60.0)
    converter = PcmConverter(source, rate)
    out = b"".join(converter.convert(piece) for piece in chunks(data, random_sizes(3, 2000)))
    out = pcm16(out + converter.flush())
    assert len(out) == 60 * rate
    tail = np.arange(len(out) - 2000, len(out)) - int(EDGE_S * rate)
    ideal = AMPLITUDE * 32767 * np.sin(2 * np.pi * TONE_HZ * tail / rate)
    assert np.max(np.abs(out[tail] - ideal)) <= 4


# ---------------------------------------------------------------- no aliasing

ALIAS_FLOOR_DB = -60.0


def blackman_harris(n: int) -> np.ndarray:
    """4-term window: side lobes under -92 dB, so a strong tone cannot hide a weak one."""
    k = 2 * np.pi * np.arange(n) / (n - 1)
    return 0.35875 - 0.48829 * np.cos(k) + 0.14128 * np.cos(2 * k) - 0.01168 * np.cos(3 * k)


def tone_pcm(rate: int, hz: float, amplitude: float = AMPLITUDE, seconds: float = 0.5) -> bytes:
    return to_int16(amplitude * np.sin(2 * np.pi * hz * np.arange(int(rate * seconds)) / rate))


def spectrum_dbfs(pcm: bytes, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies and levels (dB relative to a full-scale sine) of the steady middle of `pcm`."""
    x = pcm16(pcm)[rate // 20:-rate // 20] / 32768.0
    window = blackman_harris(len(x))
    level = np.abs(np.fft.rfft(x * window)) * 2 / window.sum()
    return np.fft.rfftfreq(len(x), 1 / rate), 20 * np.log10(level + 1e-12)


ALIAS_CASES = [(48000, 16000), (24000, 22050), (22050, 16000)]


def out_of_band_tones(source: int, rate: int) -> np.ndarray:
    """Tones above the output's Nyquist frequency, from just above it to just under the input's."""
    nyquist = rate / 2
    near = nyquist * np.array([1.005, 1.02, 1.05])
    return np.concatenate([near, np.linspace(nyquist * 1.1, source / 2 - 100, 10)])


def in_band_tones(rate: int) -> np.ndarray:
    """100 Hz to 90 % of the output's Nyquist, on multiples of 10 Hz: whole FFT bins, no scalloping."""
    return np.round(np.geomspace(100, 0.9 * rate / 2, 10), -1)


@pytest.mark.parametrize("source, rate", ALIAS_CASES, ids=[f"{a}->{b}" for a, b in ALIAS_CASES])
def test_content_above_the_new_nyquist_leaves_no_alias(source, rate):
    for hz in out_of_band_tones(source, rate):
        _, level = spectrum_dbfs(convert_all(tone_pcm(source, hz), PcmFormat(source), rate), rate)
        assert level.max() < ALIAS_FLOOR_DB, f"{hz:.0f} Hz at {source} Hz → alias at {level.max():.1f} dBFS"


@pytest.mark.parametrize("source, rate", ALIAS_CASES, ids=[f"{a}->{b}" for a, b in ALIAS_CASES])
def test_in_band_tones_keep_their_level(source, rate):
    for hz in in_band_tones(rate):
        freqs, level = spectrum_dbfs(convert_all(tone_pcm(source, hz), PcmFormat(source), rate), rate)
        peak = np.argmax(level)
        assert abs(freqs[peak] - hz) <= 5
        assert abs(level[peak] - 20 * np.log10(AMPLITUDE)) <= 0.5, f"{hz:.0f} Hz: {level[peak]:.2f} dBFS"


def test_a_mix_of_tones_up_to_23_9_khz_keeps_only_the_band():
    """100 Hz … 23.9 kHz at 48 kHz together → 16 kHz: the in-band tones, and nothing else above -60 dBFS."""
    source, rate = 48000, 16000
    low, high = in_band_tones(rate), np.append(out_of_band_tones(source, rate), 23900.0)
    amplitude = 0.9 / (len(low) + len(high))
    t = np.arange(source) / source
    mix = sum(amplitude * np.sin(2 * np.pi * hz * t) for hz in np.concatenate([low, high]))
    freqs, level = spectrum_dbfs(convert_all(to_int16(mix), PcmFormat(source), rate), rate)
    expected = 20 * np.log10(amplitude)
    for hz in low:
        near = np.abs(freqs - hz) <= 3
        assert abs(level[near].max() - expected) <= 0.5, hz
    elsewhere = np.all(np.abs(freqs[:, None] - low[None, :]) > 15, axis=1)
    assert level[elsewhere].max() < ALIAS_FLOOR_DB


def test_linear_interpolation_would_fail_the_alias_check():
    """Proof the alias check can fail: the old converter (linear interpolation, no low-pass)."""
    source, rate, hz = 48000, 16000, 12000.0
    x = pcm16(tone_pcm(source, hz)) / 32768.0
    times = np.arange(0, len(x) - 1, source / rate)
    _, level = spectrum_dbfs(to_int16(np.interp(times, np.arange(len(x)), x)), rate)
    assert level.max() > ALIAS_FLOOR_DB + 40
