"""--event-uri: satellite events reach a Wyoming event service (LEDs), which can never hold
up the satellite: a bounded queue, reconnects with backoff, a reader that stalls is dropped."""

import asyncio
import time

from wyoming.event import Event

from satellite.events import EventService
from tests.satellite.doubles import EventCollector
from tests.satellite.ha_client import Ha, reply_events, send_all, until
from tests.support.services import free_port


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
