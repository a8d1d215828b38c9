"""Server-sent events, as OpenAI-compatible chat completions stream them.

Per the SSE format: lines end in `\\n`, `\\r\\n` or `\\r`; `data:` lines of one event are
joined with `\\n` and the event is dispatched at a blank line (or at the end of the
stream); lines starting with `:` are comments (keep-alives); `event:`, `id:` and
`retry:` fields carry nothing a chat completion needs. Lines are bounded, so a server
that never sends a newline cannot make us buffer without end.
"""

import codecs
import re
from typing import AsyncIterator

_LINE_END = re.compile(r"\r\n|\n|\r")


class SseError(Exception):
    """The byte stream is not usable as server-sent events."""


async def sse_lines(chunks: AsyncIterator[bytes], max_line_chars: int) -> AsyncIterator[str]:
    """Lines of a byte stream (UTF-8, bad bytes replaced), without their line ends."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    async for chunk in chunks:
        pending += decoder.decode(chunk)
        start = 0
        for end in _LINE_END.finditer(pending):
            if end.group() == "\r" and end.end() == len(pending):
                break  # a "\r\n" may be split across chunks: decide with the next one
            yield pending[start:end.start()]
            start = end.end()
        pending = pending[start:]
        if len(pending) > max_line_chars:
            raise SseError(f"a line longer than {max_line_chars} characters")
    pending += decoder.decode(b"", final=True)
    for line in _LINE_END.split(pending):
        if line:
            yield line


async def sse_data(chunks: AsyncIterator[bytes], max_line_chars: int = 256 * 1024) -> AsyncIterator[str]:
    """The data of each event, in order; events without data are skipped."""
    data: list[str] = []
    async for line in sse_lines(chunks, max_line_chars):
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
            if sum(len(part) for part in data) > max_line_chars:
                raise SseError(f"an event longer than {max_line_chars} characters")
    if data:
        yield "\n".join(data)
