"""One client connection, read through our bounded reader so a broken server can't hurt us."""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Optional

from wyoming.event import Event

from ..config import Limits
from ..protocol.reader import read_event
from ..protocol.server import Connection, ListenAddress

#: A client may receive long audio; allow bigger payloads than a server accepts.
CLIENT_LIMITS = Limits(max_payload_bytes=64 * 1024 * 1024, idle_timeout_s=60.0)


def parse_uri(uri: str) -> ListenAddress:
    """`tcp://host:port`, `host:port` or `unix://path`."""
    return ListenAddress.parse(uri if "://" in uri else f"tcp://{uri}")


@dataclass
class ClientConnection:
    """Send events and read replies with a deadline; `clock()` is ms since connect."""

    reader: asyncio.StreamReader
    connection: Connection
    opened: float = field(default_factory=time.perf_counter)

    @staticmethod
    async def open(uri: str, timeout: float = 10.0) -> "ClientConnection":
        """Connect to a server."""
        address = parse_uri(uri)
        limit = CLIENT_LIMITS.max_header_bytes
        async with asyncio.timeout(timeout):
            if address.scheme == "unix":
                reader, writer = await asyncio.open_unix_connection(address.path, limit=limit)
            else:
                reader, writer = await asyncio.open_connection(address.host, address.port, limit=limit)
        return ClientConnection(reader, Connection(writer, CLIENT_LIMITS))

    def clock(self) -> float:
        """Milliseconds since the connection opened."""
        return (time.perf_counter() - self.opened) * 1000

    async def send(self, event: Event) -> None:
        """Send one event."""
        await self.connection.write_event(event)

    async def read(self, timeout: float = 60.0) -> Optional[Event]:
        """Next event, or None when the server closed the connection."""
        async with asyncio.timeout(timeout):
            return await read_event(self.reader, CLIENT_LIMITS)

    async def close(self) -> None:
        """Close politely."""
        self.connection.writer.close()
        try:
            await self.connection.writer.wait_closed()
        except ConnectionError:
            pass
