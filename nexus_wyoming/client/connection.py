"""One client connection, read through our bounded reader so a broken server can't hurt us.

For the CLI every failure is a one-line ClientError naming the server: refused, unknown
host, silence past the deadline, or a reply that is not Wyoming at all (an HTTP port).
`read` stays raw for callers that tell these apart themselves (the satellite).
"""

import asyncio
import dataclasses
import socket
import time
from dataclasses import dataclass, field
from typing import Awaitable, Optional, TypeVar

from wyoming.event import Event

from ..config import Limits
from ..protocol.reader import ProtocolError, read_event
from ..protocol.server import ClientGone, Connection, ListenAddress

#: A client may receive long audio; allow bigger payloads than a server accepts.
CLIENT_LIMITS = Limits(max_payload_bytes=64 * 1024 * 1024)

#: How HTTP servers start an answer to our JSON line: a status line, or an HTML error page alone (HTTP/0.9).
_HTTP_REPLIES = (b"http/", b"<!doctype html", b"<html")

#: Seconds to wait for each reply (and for the connection) unless `--timeout` says otherwise.
DEFAULT_TIMEOUT_S = 30.0

T = TypeVar("T")


class ClientError(Exception):
    """Why a client command cannot go on, in one line for the user."""


class Unreachable(ClientError, OSError):
    """No connection (refused, unknown host, no answer in time); an OSError, as callers expect."""


class ServerGone(ClientError, ClientGone):
    """The server closed the connection or stopped reading while we sent."""


def parse_uri(uri: str) -> ListenAddress:
    """`tcp://host:port`, `host:port` or `unix://path`."""
    return ListenAddress.parse(uri if "://" in uri else f"tcp://{uri}")


@dataclass
class _HeaderTap:
    """The stream as `read_event` sees it, keeping the last header line for error messages."""

    reader: asyncio.StreamReader
    line: bytes = b""

    async def readuntil(self, separator: bytes) -> bytes:
        self.line = await self.reader.readuntil(separator)
        return self.line

    async def readexactly(self, length: int) -> bytes:
        return await self.reader.readexactly(length)


@dataclass
class ClientConnection:
    """Send events and read replies with a deadline; `clock()` is ms since connect."""

    uri: str
    tap: _HeaderTap
    connection: Connection
    timeout: float
    opened: float = field(default_factory=time.perf_counter)
    replies: int = 0

    @staticmethod
    async def open(uri: str, timeout: float = DEFAULT_TIMEOUT_S) -> "ClientConnection":
        """Connect to a server; `timeout` bounds the connect and every later read or write."""
        address = parse_uri(uri)
        uri = str(address)
        limits = dataclasses.replace(CLIENT_LIMITS, idle_timeout_s=timeout)  # bounds a stalled write
        try:
            async with asyncio.timeout(timeout):
                if address.scheme == "unix":
                    reader, writer = await asyncio.open_unix_connection(address.path, limit=limits.max_header_bytes)
                else:
                    reader, writer = await asyncio.open_connection(address.host, address.port, limit=limits.max_header_bytes)
        except TimeoutError:
            raise Unreachable(f"{uri}: no connection within {timeout:g} s (see --timeout)") from None
        except ConnectionRefusedError:
            raise Unreachable(f"{uri}: connection refused (is the server running, on this port?)") from None
        except (socket.gaierror, UnicodeError):  # no such name, or one that cannot even be encoded
            raise Unreachable(f"{uri}: unknown host {address.host!r}") from None
        except OSError as err:
            raise Unreachable(f"{uri}: cannot connect ({err.strerror or err})") from None
        return ClientConnection(uri, _HeaderTap(reader), Connection(writer, limits), timeout)

    def clock(self) -> float:
        """Milliseconds since the connection opened."""
        return (time.perf_counter() - self.opened) * 1000

    async def send(self, event: Event) -> None:
        """Send one event."""
        try:
            await self.connection.write_event(event)
        except ClientGone:
            raise ServerGone(f"{self.uri}: the server closed the connection or stopped reading") from None

    async def read(self, timeout: Optional[float] = 60.0) -> Optional[Event]:
        """Next event, or None when the server closed the connection; ProtocolError on garbage."""
        async with asyncio.timeout(timeout):
            return await read_event(self.tap, CLIENT_LIMITS)  # type: ignore[arg-type]  # reads like one

    async def expect(self, waiting_for: str) -> Event:
        """Next event within the deadline; `waiting_for` names it in the error."""
        return await self.within(self.receive(waiting_for), waiting_for)

    async def within(self, reply: Awaitable[T], waiting_for: str) -> T:
        """Await a reply for at most `timeout` seconds."""
        try:
            async with asyncio.timeout(self.timeout):
                return await reply
        except TimeoutError:
            raise ClientError(f"{self.uri}: no {waiting_for} within {self.timeout:g} s (see --timeout)") from None

    async def receive(self, waiting_for: str) -> Event:
        """Next event, however long it takes; an `error` event, a close or garbage raise."""
        try:
            event = await self.read(timeout=None)
        except ProtocolError as err:
            raise ClientError(self._not_wyoming(err)) from None
        except ConnectionError:
            event = None
        if event is None:
            raise ClientError(f"{self.uri}: the server closed the connection while we waited for {waiting_for}")
        self.replies += 1
        if event.type == "error":
            raise ClientError(f"{self.uri}: server error: {event.data.get('text')} ({event.data.get('code')})")
        return event

    def _not_wyoming(self, err: ProtocolError) -> str:
        if self.replies:
            return f"{self.uri}: bad event from the server: {err.text}"
        if self.tap.line.lstrip().lower().startswith(_HTTP_REPLIES):
            return f"{self.uri}: this is not a Wyoming server (it answered like an HTTP server)"
        return f"{self.uri}: this is not a Wyoming server (its first reply is not a Wyoming event: {err.text})"

    async def close(self) -> None:
        """Close politely."""
        self.connection.writer.close()
        try:
            await self.connection.writer.wait_closed()
        except ConnectionError:
            pass
