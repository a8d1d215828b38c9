"""A Wyoming server that survives its clients: bounded reads, connection caps (in all and
per peer address), first-event and idle timeouts, throttled log lines about clients, and
a draining stop on SIGTERM.

A server author writes one `EventHandler.handle_event` (as with `wyoming.server`);
this module owns sockets, limits and shutdown.
"""

import asyncio
import contextlib
import json
import logging
import signal
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Optional
from urllib.parse import urlparse

from wyoming.error import Error
from wyoming.event import Event

from ..config import Limits
from ..throttle import ThrottledLog
from .reader import ProtocolError, read_event

_LOGGER = logging.getLogger(__name__)
_CLIENT_LOG = ThrottledLog(_LOGGER)  # lines a client can cause: at most one per peer and minute
_DISCONNECTS = (ConnectionError, BrokenPipeError, asyncio.IncompleteReadError)
_WIRE_VERSION = "1.10.2"


class ClientGone(Exception):
    """The client closed the connection or stopped reading; stop working for it."""


@dataclass(frozen=True)
class ListenAddress:
    """Where a server listens, parsed from a `tcp://host:port` or `unix://path` URI."""

    scheme: str
    host: str = ""
    port: int = 0
    path: str = ""

    @staticmethod
    def parse(uri: str) -> "ListenAddress":
        """Parse and validate a listening URI."""
        parsed = urlparse(uri)
        if parsed.scheme == "unix" and parsed.path:
            return ListenAddress("unix", path=parsed.path)
        if parsed.scheme == "tcp":
            try:
                port = parsed.port
            except ValueError as err:
                raise ValueError(f"bad port in {uri!r}") from err
            if parsed.hostname and port is not None:
                return ListenAddress("tcp", host=parsed.hostname, port=port)
        raise ValueError(f"expected tcp://HOST:PORT or unix://PATH, got {uri!r}")

    def __str__(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"


class Connection:
    """One client: serialises writes and bounds how long a slow reader may stall us."""

    def __init__(self, writer: asyncio.StreamWriter, limits: Limits) -> None:
        self.writer = writer
        self.limits = limits
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "local")
        self.peer_host = str(peer[0]) if isinstance(peer, tuple) else "local"

    async def write_event(self, event: Event) -> None:
        """Send one event; raise ClientGone if the client went away or stopped reading."""
        header: dict = {"type": event.type, "version": _WIRE_VERSION}
        data = json.dumps(event.data, ensure_ascii=False).encode() if event.data else b""
        if data:
            header["data_length"] = len(data)
        if event.payload:
            header["payload_length"] = len(event.payload)
        if self.writer.is_closing():
            raise ClientGone(self.peer)
        self.writer.write(json.dumps(header).encode() + b"\n" + data + (event.payload or b""))
        try:
            async with asyncio.timeout(self.limits.write_stall_s):
                await self.writer.drain()
        except TimeoutError as err:
            # It reads nothing: drop it now (a graceful close would wait for it to read).
            _LOGGER.info("client %s stopped reading for %g s; dropping it", self.peer, self.limits.write_stall_s)
            self.writer.transport.abort()
            raise ClientGone(self.peer) from err
        except _DISCONNECTS as err:
            raise ClientGone(self.peer) from err

    def close(self) -> None:
        """End the connection once what was written is sent; our reader then sees its end."""
        self.writer.close()


class EventHandler(ABC):
    """Handles the events of one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    async def write_event(self, event: Event) -> None:
        """Send an event to this handler's client."""
        await self.connection.write_event(event)

    @abstractmethod
    async def handle_event(self, event: Event) -> bool:
        """Handle one event; return False to close the connection."""

    def busy(self) -> bool:
        """True while a request spans several events (a stream): shutdown waits for it."""
        return False

    def stopping(self) -> None:
        """Shutdown began while busy: wrap up the request promptly and end it cleanly."""

    async def disconnect(self) -> None:
        """Release what this connection holds; called once when it ends."""


HandlerFactory = Callable[[Connection], EventHandler]


class WyomingServer:
    """Accepts clients and runs one EventHandler per connection."""

    def __init__(self, uri: str, handler_factory: HandlerFactory, limits: Limits, name: str) -> None:
        self.address = ListenAddress.parse(uri)
        self.handler_factory = handler_factory
        self.limits = limits
        self.name = name
        self._server: Optional[asyncio.AbstractServer] = None
        self._tasks: dict[asyncio.Task, tuple[EventHandler, Callable[[], bool]]] = {}
        self._per_peer: dict[str, int] = {}
        self._stopping = asyncio.Event()

    async def start(self) -> ListenAddress:
        """Bind and start accepting; returns the real address (port 0 → a free port)."""
        limit = self.limits.max_header_bytes
        if self.address.scheme == "unix":
            self._server = await asyncio.start_unix_server(self._accept, self.address.path, limit=limit)
        else:
            self._server = await asyncio.start_server(
                self._accept, self.address.host, self.address.port, limit=limit
            )
            port = self._server.sockets[0].getsockname()[1]
            self.address = ListenAddress("tcp", host=self.address.host, port=port)
        _LOGGER.info("%s listening on %s", self.name, self.address)
        return self.address

    async def serve_until_stopped(self, drain_signals: bool = True) -> None:
        """Serve until SIGTERM/SIGINT (or stop()), then drain requests in flight."""
        loop = asyncio.get_running_loop()
        if drain_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
        await self._stopping.wait()
        await self._drain()

    def stop(self) -> None:
        """Stop accepting; connections end after their current request."""
        self._stopping.set()

    @property
    def connection_count(self) -> int:
        """Clients connected now."""
        return len(self._tasks)

    async def _drain(self) -> None:
        assert self._server is not None
        self._server.close()
        busy = 0
        for task, (handler, is_busy) in list(self._tasks.items()):
            if is_busy():
                busy += 1
                handler.stopping()
            else:
                task.cancel()
        pending = list(self._tasks)
        if busy:
            _LOGGER.info("draining %d request(s) in flight", busy)
            _, late = await asyncio.wait(pending, timeout=self.limits.drain_timeout_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        _LOGGER.info("%s stopped", self.name)

    def _refusal(self, connection: Connection) -> Optional[str]:
        """Why this connection cannot be served now, or None."""
        if self._stopping.is_set():
            return "shutting down"
        if len(self._tasks) >= self.limits.max_connections:
            return f"{len(self._tasks)} connections open"
        if self._per_peer.get(connection.peer_host, 0) >= self.limits.max_connections_per_peer:
            return f"{self.limits.max_connections_per_peer} connections open from {connection.peer_host}"
        return None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = Connection(writer, self.limits)
        refusal = self._refusal(connection)
        if refusal is not None:
            _CLIENT_LOG.warning(f"refused {connection.peer_host}", "refusing %s: %s", connection.peer, refusal)
            with contextlib.suppress(ClientGone):
                await connection.write_event(Error("server busy, try again", "busy").event())
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        handler = self.handler_factory(connection)
        in_event = [False]
        self._tasks[task] = (handler, lambda: in_event[0] or handler.busy())
        self._per_peer[connection.peer_host] = self._per_peer.get(connection.peer_host, 0) + 1
        try:
            await self._serve(reader, connection, handler, in_event)
        except asyncio.CancelledError:
            _LOGGER.debug("connection %s cancelled", connection.peer)
        finally:
            self._tasks.pop(task, None)
            left = self._per_peer.pop(connection.peer_host) - 1
            if left:
                self._per_peer[connection.peer_host] = left
            with contextlib.suppress(Exception):
                await handler.disconnect()
            writer.close()

    async def _serve(self, reader, connection: Connection, handler: EventHandler, in_event: list) -> None:
        timeout = self.limits.first_event_timeout_s
        try:
            while not (self._stopping.is_set() and not handler.busy()):
                try:
                    async with asyncio.timeout(timeout):
                        event = await read_event(reader, self.limits)
                except TimeoutError:
                    _CLIENT_LOG.info(f"idle {connection.peer_host}", "closing idle connection %s", connection.peer)
                    return
                timeout = self.limits.idle_timeout_s
                if event is None:
                    return
                in_event[0] = True
                try:
                    if not await handler.handle_event(event):
                        return
                finally:
                    in_event[0] = False
        except ProtocolError as err:
            _CLIENT_LOG.warning(f"bad input {connection.peer_host}", "bad input from %s: %s", connection.peer, err.text)
            with contextlib.suppress(ClientGone):
                await connection.write_event(Error(err.text, err.code).event())
        except (ClientGone, *_DISCONNECTS):
            _LOGGER.info("client %s disconnected", connection.peer)
        except Exception:  # a bug of ours must not take the other clients down
            _LOGGER.exception("internal error serving %s", connection.peer)
            with contextlib.suppress(ClientGone):
                await connection.write_event(Error("internal server error", "internal").event())
