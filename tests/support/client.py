"""A plain Wyoming client for tests: raw bytes when a test needs to misbehave."""

import asyncio
import json
from dataclasses import dataclass
from typing import Optional

from wyoming.event import Event, async_read_event, async_write_event


@dataclass
class WyomingClient:
    """One TCP connection to a server under test."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @staticmethod
    async def connect(host: str, port: int, source: Optional[str] = None) -> "WyomingClient":
        """Connect, from the local address `source` when given (e.g. 127.0.0.2: another LAN host)."""
        reader, writer = await asyncio.open_connection(host, port, limit=16 * 1024 * 1024,
                                                       local_addr=(source, 0) if source else None)
        return WyomingClient(reader, writer)

    async def send(self, event: Event) -> None:
        await async_write_event(event, self.writer)

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send_header(self, header: dict, extra: bytes = b"") -> None:
        await self.send_raw(json.dumps(header).encode() + b"\n" + extra)

    async def read(self, timeout: float = 30.0) -> Optional[Event]:
        return await asyncio.wait_for(async_read_event(self.reader), timeout)

    async def read_until(self, event_type: str, timeout: float = 60.0) -> list[Event]:
        """Events up to and including the first of `event_type`."""
        events: list[Event] = []
        async with asyncio.timeout(timeout):
            while True:
                event = await async_read_event(self.reader)
                if event is None:
                    raise ConnectionError(f"closed before {event_type}; got {[e.type for e in events]}")
                events.append(event)
                if event.type == event_type:
                    return events

    async def closed(self, timeout: float = 10.0) -> bool:
        """True when the server closes the connection (after any pending events)."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    if not await self.reader.read(65536):
                        return True
                except ConnectionError:
                    return True

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass
