"""--event-uri: satellite events reach a Wyoming event service (LEDs), which can never hold
up the satellite: a bounded queue, reconnects with backoff, a reader that stalls is dropped."""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Optional

from wyoming.event import Event, async_read_event

from satellite.events import EventService
from tests.satellite.ha_client import Ha, reply_events, send_all, until
from tests.support.services import free_port


@dataclass
class EventCollector:
    """A Wyoming server that records the type of every event it is sent (or reads nothing at all)."""

    reads: bool = True
    port: int = 0
    types: list[str] = field(default_factory=list)
    connections: int = 0
    _server: Optional[asyncio.AbstractServer] = None

    async def start(self, port: int = 0) -> "EventCollector":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def uri(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            if not self.reads:
                await asyncio.sleep(3600)
            while (event := await async_read_event(reader)) is not None:
                self.types.append(event.type)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def wait_for(self, event_type: str, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while event_type not in self.types:
                await asyncio.sleep(0.05)


async def test_events_arrive_in_order_and_a_late_service_gets_them():
    port = free_port()
    service = EventService(f"tcp://127.0.0.1:{port}", retry_min_s=0.05, retry_max_s=0.2)
    for name in ("run-satellite", "detection", "streaming-started"):
        service.send(Event(name))
    await asyncio.sleep(0.3)  # nobody listens yet: retried, nothing lost
    collector = await EventCollector().start(port)
    try:
        await collector.wait_for("streaming-started", timeout=5)
        service.send(Event("played"))
        await collector.wait_for("played", timeout=5)
        assert collector.types == ["run-satellite", "detection", "streaming-started", "played"]
    finally:
        await service.close()
        await collector.stop()


async def test_a_service_that_reads_nothing_never_blocks_the_sender():
    collector = await EventCollector(reads=False).start()
    service = EventService(collector.uri, queue_size=8)
    big = {"text": "x" * 60_000}  # fills the socket buffers quickly
    try:
        started = time.monotonic()
        for _ in range(2_000):
            service.send(Event("transcript", big))
            await asyncio.sleep(0)
        assert time.monotonic() - started < 2.0
        assert len(service.queue) <= 8 and service.dropped > 0  # the oldest went first
    finally:
        await service.close()
        await collector.stop()


async def test_ha_mode_forwards_a_whole_turn(tmp_path, command_wav):
    collector = await EventCollector().start()
    ha = Ha(tmp_path, command_wav, "--event-uri", collector.uri)
    try:
        client = await ha.client()
        await client.send(Event("run-satellite"))
        ha.speak()
        await until(client, "audio-stop")
        await client.send(Event("transcript", {"text": "turn on the kitchen lights"}))
        await client.send(Event("synthesize", {"text": "Done."}))
        await send_all(client, reply_events(0.3))
        await until(client, "played")
        await client.send(Event("timer-finished", {"id": "t1"}))
        await collector.wait_for("timer-finished")
        await client.close()
    finally:
        ha.proc.stop()
        await collector.stop()
    assert "audio-chunk" not in collector.types  # never audio
    expected = ["run-satellite", "run-pipeline", "streaming-started", "voice-started", "voice-stopped",
                "streaming-stopped", "transcript", "synthesize", "audio-start", "audio-stop", "played", "timer-finished"]
    assert [t for t in collector.types if t in expected] == expected, collector.types
