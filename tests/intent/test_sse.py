"""Server-sent event parsing: line ends split across chunks, comments, multi-line data, bounds."""

import pytest

from nexus_wyoming.intent.providers.sse import SseError, sse_data


async def chunks_of(*parts: bytes):
    for part in parts:
        yield part


async def events(*parts: bytes, max_line_chars: int = 1000) -> list[str]:
    return [data async for data in sse_data(chunks_of(*parts), max_line_chars)]


async def test_one_event_per_blank_line_with_any_line_end():
    assert await events(b"data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d") == ["a", "b", "c", "d"]


async def test_crlf_split_across_chunks_is_one_line_end():
    assert await events(b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n") == ["a", "b"]


async def test_utf8_split_across_chunks():
    text = "data: é✓\n\n".encode()
    assert await events(text[:7], text[7:9], text[9:]) == ["é✓"]


async def test_comments_and_other_fields_are_ignored_and_data_lines_join():
    stream = b": keep-alive\nevent: message\nid: 3\nretry: 10\ndata: {\"a\":\ndata: 1}\n\n"
    assert await events(stream) == ['{"a":\n1}']


async def test_data_without_space_and_empty_events():
    assert await events(b"data:x\n\n\n\nevent: ping\n\n") == ["x"]


async def test_a_line_without_end_is_bounded():
    with pytest.raises(SseError):
        await events(b"data: " + b"x" * 2000)


async def test_an_event_of_many_lines_is_bounded():
    with pytest.raises(SseError):
        await events(b"data: 0123456789\n" * 200)
