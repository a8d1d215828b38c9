"""The bounded event reader: every malformed or oversized input becomes a ProtocolError."""

import asyncio
import json

import pytest

from nexus_wyoming.config import Limits
from nexus_wyoming.protocol.reader import MAX_TYPE_CHARS, ProtocolError, read_event

LIMITS = Limits(max_header_bytes=1024, max_data_bytes=256, max_payload_bytes=4096)


def stream(data: bytes, eof: bool = True, limits: Limits = LIMITS) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=limits.max_header_bytes)
    if data:
        reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


def header(obj) -> bytes:
    return json.dumps(obj).encode() + b"\n"


async def read(data: bytes, eof: bool = True, limits: Limits = LIMITS):
    return await asyncio.wait_for(read_event(stream(data, eof, limits), limits), 1.0)


async def rejected(data: bytes, eof: bool = True, limits: Limits = LIMITS) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        await read(data, eof, limits)
    return caught.value


# ---------------------------------------------------------------- valid events


async def test_event_with_data_in_header():
    event = await read(header({"type": "synthesize", "data": {"text": "hi"}}))
    assert event.type == "synthesize"
    assert event.data == {"text": "hi"}
    assert event.payload is None


async def test_event_without_data_has_empty_data():
    event = await read(header({"type": "describe"}))
    assert (event.type, event.data, event.payload) == ("describe", {}, None)


async def test_null_data_is_empty_data():
    event = await read(header({"type": "describe", "data": None}))
    assert event.data == {}


async def test_extra_data_is_merged_over_header_data():
    extra = json.dumps({"rate": 16000, "width": 2}).encode()
    raw = header({"type": "audio-start", "data": {"rate": 8000, "channels": 1}, "data_length": len(extra)}) + extra
    event = await read(raw)
    assert event.type == "audio-start"
    assert event.data == {"rate": 16000, "width": 2, "channels": 1}


async def test_extra_data_without_header_data():
    extra = json.dumps({"text": "hello"}).encode()
    event = await read(header({"type": "transcript", "data_length": len(extra)}) + extra)
    assert event.data == {"text": "hello"}


async def test_payload_is_returned_byte_exact():
    payload = bytes(range(256)) * 3
    raw = header({"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1},
                  "payload_length": len(payload)}) + payload
    event = await read(raw)
    assert event.payload == payload
    assert event.data["rate"] == 16000


async def test_extra_data_and_payload_together_then_next_event():
    extra = b'{"timestamp": 5}'
    payload = b"\x01\x02" * 10
    raw = (header({"type": "audio-chunk", "data_length": len(extra), "payload_length": len(payload)})
           + extra + payload + header({"type": "audio-stop"}))
    reader = stream(raw)
    first = await read_event(reader, LIMITS)
    assert first.data == {"timestamp": 5} and first.payload == payload
    second = await read_event(reader, LIMITS)
    assert second.type == "audio-stop"
    assert await read_event(reader, LIMITS) is None


async def test_zero_lengths_mean_nothing_follows():
    raw = header({"type": "ping", "data_length": 0, "payload_length": 0}) + header({"type": "pong"})
    reader = stream(raw)
    assert (await read_event(reader, LIMITS)).payload is None
    assert (await read_event(reader, LIMITS)).type == "pong"


async def test_lengths_exactly_at_the_limits_are_accepted():
    extra = b'{"k": "' + b"x" * (LIMITS.max_data_bytes - 9) + b'"}'
    assert len(extra) == LIMITS.max_data_bytes
    payload = b"\0" * LIMITS.max_payload_bytes
    event = await read(header({"type": "audio-chunk", "data_length": len(extra),
                               "payload_length": len(payload)}) + extra + payload)
    assert len(event.data["k"]) == LIMITS.max_data_bytes - 9 and event.payload == payload


async def test_header_line_exactly_max_header_bytes_is_accepted():
    base = {"type": "t", "data": {"pad": ""}}
    pad = LIMITS.max_header_bytes - len(header(base))
    line = header({"type": "t", "data": {"pad": "x" * pad}})
    assert len(line) == LIMITS.max_header_bytes
    event = await read(line)
    assert len(event.data["pad"]) == pad


async def test_type_of_max_length_is_accepted():
    event = await read(header({"type": "a" * MAX_TYPE_CHARS}))
    assert event.type == "a" * MAX_TYPE_CHARS


async def test_crlf_line_end_and_surrounding_whitespace_are_accepted():
    event = await read(b'  {"type": "describe"}  \r\n')
    assert event.type == "describe"


# ---------------------------------------------------------------- end of stream


@pytest.mark.parametrize("raw", [b"", b"   ", b"\r"])
async def test_clean_eof_is_none(raw):
    assert await read(raw) is None


@pytest.mark.parametrize("raw", [
    b'{"type": "describe"',                       # no newline
    b'{"type": "desc',
    b"{",
])
async def test_eof_inside_header_is_an_error(raw):
    await rejected(raw)


async def test_eof_inside_extra_data_is_an_error():
    extra = b'{"text": "hello"}'
    await rejected(header({"type": "transcript", "data_length": len(extra)}) + extra[:-3])


async def test_eof_inside_payload_is_an_error():
    await rejected(header({"type": "audio-chunk", "payload_length": 100}) + b"\0" * 99)


async def test_eof_right_after_header_announcing_payload_is_an_error():
    await rejected(header({"type": "audio-chunk", "payload_length": 1}))


# ---------------------------------------------------------------- malformed headers


@pytest.mark.parametrize("raw", [
    b"not json\n",
    b"{type: describe}\n",
    b"{'type': 'describe'}\n",
    b'{"type": "describe"} trailing\n',
    b'{"type": "describe",}\n',
    b'{"type": NaNx}\n',
    b"\x00\x01\x02\n",
])
async def test_header_not_json(raw):
    error = await rejected(raw)
    assert error.code == "bad-event"


@pytest.mark.parametrize("raw", [b"[]\n", b'[{"type": "x"}]\n', b'"describe"\n', b"42\n", b"3.5\n",
                                 b"null\n", b"true\n"])
async def test_header_not_an_object(raw):
    error = await rejected(raw)
    assert error.code == "bad-event"


@pytest.mark.parametrize("raw", [
    b'{"type": "\xff\xfe"}\n',
    b'{"type": "describe", "data": {"t": "\xc3\x28"}}\n',
    b"\xff\xff\xff\xff\n",
])
async def test_header_invalid_utf8(raw):
    await rejected(raw)


@pytest.mark.parametrize("opener", [b"[", b'{"a":'])
async def test_deeply_nested_header_is_an_error_not_a_crash(opener):
    depth = 100_000
    raw = opener * depth + b"\n"
    limits = Limits(max_header_bytes=len(raw) + 16)
    await rejected(raw, limits=limits)


async def test_deeply_nested_extra_data_is_an_error_not_a_crash():
    extra = b"[" * 100_000
    limits = Limits(max_data_bytes=len(extra))
    await rejected(header({"type": "t", "data_length": len(extra)}) + extra, limits=limits)


@pytest.mark.parametrize("obj", [
    {},
    {"data": {}},
    {"type": None},
    {"type": 5},
    {"type": True},
    {"type": ["describe"]},
    {"type": {"name": "describe"}},
    {"type": ""},
    {"type": "a" * (MAX_TYPE_CHARS + 1)},
    {"type": "a" * 1000},
])
async def test_bad_type(obj):
    error = await rejected(header(obj))
    assert error.code == "bad-event"


@pytest.mark.parametrize("data", [[], [1, 2], "text", 5, 0, True, False, 1.5, ""])
async def test_data_not_an_object(data):
    await rejected(header({"type": "t", "data": data}))


@pytest.mark.parametrize("key", ["data_length", "payload_length"])
@pytest.mark.parametrize("value", [-1, -(10 ** 30), 1.0, 1.5, "10", "", True, False, [1], {"n": 1}])
async def test_bad_length_values(key, value):
    # Followed by plenty of bytes so a reader that accepted the value could "succeed".
    error = await rejected(header({"type": "t", key: value}) + b"{}" + b"\0" * 64)
    assert error.code == "bad-event"


@pytest.mark.parametrize("key", ["data_length", "payload_length"])
@pytest.mark.parametrize("value", [10 ** 30, 2 ** 63, 2 ** 64 + 1])
async def test_huge_lengths_are_too_large(key, value):
    error = await rejected(header({"type": "t", key: value}), eof=False)
    assert error.code == "too-large"


@pytest.mark.parametrize("key, limit", [("data_length", LIMITS.max_data_bytes),
                                        ("payload_length", LIMITS.max_payload_bytes)])
async def test_length_one_above_the_limit_is_refused_before_reading(key, limit):
    # Nothing follows and the stream stays open: a reader that tried to read (or allocate)
    # the announced bytes would block here; the check must happen first.
    error = await rejected(header({"type": "t", key: limit + 1}), eof=False)
    assert error.code == "too-large"


async def test_zero_limits_refuse_any_extra_data_or_payload():
    limits = Limits(max_header_bytes=1024, max_data_bytes=0, max_payload_bytes=0)
    assert (await rejected(header({"type": "t", "data_length": 1}) + b"{", eof=False, limits=limits)).code == "too-large"
    assert (await rejected(header({"type": "t", "payload_length": 1}) + b"\0", eof=False, limits=limits)).code == "too-large"


async def test_header_line_longer_than_limit_is_too_large():
    line = header({"type": "t", "data": {"pad": "x" * (LIMITS.max_header_bytes * 2)}})
    error = await rejected(line)
    assert error.code == "too-large"


async def test_header_one_byte_over_the_limit_is_too_large():
    base = {"type": "t", "data": {"pad": ""}}
    pad = LIMITS.max_header_bytes - len(header(base)) + 1
    line = header({"type": "t", "data": {"pad": "x" * pad}})
    assert len(line) == LIMITS.max_header_bytes + 1
    error = await rejected(line)
    assert error.code == "too-large"


async def test_endless_header_without_newline_is_too_large_without_waiting_for_eof():
    error = await rejected(b"{" + b" " * (LIMITS.max_header_bytes * 4), eof=False)
    assert error.code == "too-large"


@pytest.mark.parametrize("extra", [b"[1, 2]", b'"text"', b"42", b"null", b"not json", b"\xff\xfe{}}",
                                   b'{"a": 1} x'])
async def test_extra_data_not_a_json_object(extra):
    await rejected(header({"type": "t", "data_length": len(extra)}) + extra)


@pytest.mark.parametrize("raw", [b"\n", b"\r\n", b"   \n", b'\n{"type": "describe"}\n'])
async def test_empty_header_line_is_an_error(raw):
    error = await rejected(raw)
    assert error.code == "bad-event"


async def test_protocol_error_carries_text_and_code():
    error = await rejected(header({"type": "t", "payload_length": 10 ** 9}), eof=False)
    assert error.text == str(error) and error.text
    assert error.code == "too-large"
