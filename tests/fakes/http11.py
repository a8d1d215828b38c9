"""A minimal HTTP/1.1 server for vendor fakes: keep-alive, JSON and chunked answers.

Subclass `HttpFake`, implement `answer(request, exchange)` and use `async with`.
`Exchange` writes the answer and knows when the client hung up mid-answer (an
HTTP/1.1 client sends nothing while it reads, so EOF on the socket means it left).
The EOF watch polls and never reads, so it cannot swallow the next kept-alive request.
"""

import asyncio
import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Optional
from urllib.parse import parse_qsl, urlsplit

MAX_BODY = 8 * 1024 * 1024


@dataclass
class HttpRequest:
    """One request as the server read it."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    client_port: int
    query: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.body)


class Exchange:
    """Writes one answer; `gone` is set when the client closes the connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.gone = asyncio.Event()
        self._watch = asyncio.create_task(self._watch_eof(reader))

    async def _watch_eof(self, reader: asyncio.StreamReader) -> None:
        """Polls without reading, so the next request on the connection stays intact."""
        while not reader.at_eof():
            await asyncio.sleep(0.005)
        self.gone.set()

    def stop_watching(self) -> None:
        """The answer is complete: the connection may be reused."""
        self._watch.cancel()

    def head(self, status: int, headers: dict[str, str]) -> None:
        """Status line and headers."""
        write_head(self.writer, status, headers)

    async def json(self, status: int, payload: Any, headers: Optional[dict[str, str]] = None) -> None:
        """A complete JSON answer."""
        body = json.dumps(payload).encode()
        self.head(status, {"content-type": "application/json", "content-length": str(len(body)), **(headers or {})})
        self.writer.write(body)
        await self.writer.drain()

    async def chunk(self, data: bytes) -> None:
        """One piece of a chunked body; ConnectionError once the client is gone."""
        if self.gone.is_set() or self.writer.is_closing():
            raise ConnectionResetError("client went away")
        self.writer.write(b"%x\r\n%s\r\n" % (len(data), data))
        await self.writer.drain()

    async def end_chunks(self) -> None:
        """The end of a chunked body."""
        self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()

    def abort(self) -> None:
        """Drop the connection (a crash or network failure mid-answer)."""
        self.writer.transport.abort()


@dataclass
class HttpFake:
    """Base of a vendor fake on 127.0.0.1 with an ephemeral port."""

    requests: list[HttpRequest] = field(default_factory=list)
    port: int = 0
    _server: Optional[asyncio.Server] = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task] = field(default_factory=set)

    async def __aenter__(self):
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:  # connections end once they see the abort; none is left for the loop to cancel
            await asyncio.wait(list(self._tasks), timeout=5)
        await self._server.wait_closed()

    async def answer(self, request: HttpRequest, exchange: Exchange) -> bool:
        """Answer one request; False when the connection must be closed after it."""
        raise NotImplementedError

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._writers.add(writer)
        port = writer.get_extra_info("peername")[1]
        try:
            while (request := await read_request(reader, port)) is not None:
                self.requests.append(request)
                exchange = Exchange(reader, writer)
                try:
                    keep = await self.answer(request, exchange)
                finally:
                    exchange.stop_watching()
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


async def read_request(reader: asyncio.StreamReader, port: int) -> Optional[HttpRequest]:
    """The next request on a kept-alive connection, or None when the client closed it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, target, _version = request_line.split(" ", 2)
    headers = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    if length > MAX_BODY:
        raise ValueError("body too large")
    body = await reader.readexactly(length)
    split = urlsplit(target)
    return HttpRequest(method, split.path, headers, body, port, dict(parse_qsl(split.query, keep_blank_values=True)))


def write_head(writer: asyncio.StreamWriter, status: int, headers: dict[str, str]) -> None:
    """Status line and headers of an answer."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"] + [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
