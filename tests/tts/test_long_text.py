"""Unpunctuated text of any length keeps memory bounded and other clients served.

The reference wyoming-piper feeds one sentence to the voice whole: 8 KB without
punctuation drove it to 22 GB RSS here. We cut every synthesis unit short.
"""

import asyncio
import time

import psutil
import pytest
from wyoming.error import Error
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart

from tests.conftest import tts_args
from tests.support.client import WyomingClient
from tests.support.processes import ServerProcess

# Peak while both synthesis threads each run one bounded unit (~100 MB of model memory
# each, measured up to +216 MB on a busy machine); the reference grew to 22 GB on 8 KB.
RSS_GROWTH_LIMIT = 300 * 1024 * 1024
RSS_RETURNED_LIMIT = 60 * 1024 * 1024
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "


def unpunctuated(size: int) -> str:
    return (WORDS * (size // len(WORDS) + 1))[:size]


async def other_client_latency(server) -> float:
    began = time.perf_counter()
    client = await WyomingClient.connect(server.host, server.port)
    await client.send(Synthesize(text="Are you still there?").event())
    await client.read_until("audio-stop", timeout=30)
    await client.close()
    return time.perf_counter() - began


async def listen_while_measuring(server, client: WyomingClient, seconds: float) -> tuple[int, int, float]:
    """Read audio for `seconds`; returns (peak RSS, audio bytes, other client's latency)."""
    process = psutil.Process(server.pid)
    peak, received = 0, 0
    other = asyncio.create_task(other_client_latency(server))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        event = await client.read(timeout=30)
        assert event is not None and event.type != "error", event
        received += len(event.payload or b"")
        peak = max(peak, process.memory_info().rss)
    return peak, received, await other


@pytest.fixture
def server(tmp_path):
    process = ServerProcess(tts_args(tmp_path), env={"NEXUS_TTS__MAX_TEXT_CHARS": "1000000", "NEXUS_TTS__MAX_PENDING_CHARS": "2000000"}).start()
    yield process
    process.stop()


@pytest.mark.parametrize("size", [8 * 1024, 64 * 1024, 1000 * 1000])
async def test_unpunctuated_text_keeps_memory_bounded(server, size):
    baseline = psutil.Process(server.pid).memory_info().rss
    client = await WyomingClient.connect(server.host, server.port)
    await client.send(Synthesize(text=unpunctuated(size)).event())
    peak, received, other_latency = await listen_while_measuring(server, client, seconds=6.0)
    await client.close()
    assert received > 22050 * 2, "audio kept flowing"  # over a second of speech, even on a busy machine
    assert peak - baseline < RSS_GROWTH_LIMIT, f"RSS grew {(peak - baseline) / 2**20:.0f} MB"
    assert other_latency < 5.0, f"another client waited {other_latency:.1f} s"
    assert server.alive


async def test_streamed_unpunctuated_text_keeps_memory_bounded(server):
    baseline = psutil.Process(server.pid).memory_info().rss
    client = await WyomingClient.connect(server.host, server.port)
    await client.send(SynthesizeStart().event())
    for _ in range(64):
        await client.send(SynthesizeChunk(text=unpunctuated(1024)).event())
    peak, received, other_latency = await listen_while_measuring(server, client, seconds=5.0)
    await client.close()
    assert received > 0
    assert peak - baseline < RSS_GROWTH_LIMIT
    assert other_latency < 5.0


async def test_text_over_the_limit_is_refused(tts_server):
    client = await WyomingClient.connect(tts_server.host, tts_server.port)
    await client.send(Synthesize(text=unpunctuated(1000 * 1000)).event())
    error = Error.from_event(await client.read())
    assert error.code == "too-long" and "100000" in error.text

    async def send_too_much() -> None:
        await client.send(SynthesizeStart().event())
        for _ in range(101):
            await client.send(SynthesizeChunk(text=unpunctuated(1000)).event())

    sender = asyncio.create_task(send_too_much())  # audio is read meanwhile, as a player would
    events = await client.read_until("error", timeout=120)
    assert Error.from_event(events[-1]).code == "too-long"
    await sender
    await client.close()
    assert await other_client_latency(tts_server) < 5.0


async def test_memory_taken_by_long_texts_is_given_back(server):
    # Measured before: +183 MB kept after 4 KB (onnxruntime's arena); now about +25 MB.
    client = await WyomingClient.connect(server.host, server.port)
    await client.send(Synthesize(text="Warm up.").event())
    await client.read_until("audio-stop")
    baseline = psutil.Process(server.pid).memory_info().rss
    await client.send(Synthesize(text=unpunctuated(8 * 1024)).event())
    peak, _, _ = await listen_while_measuring(server, client, seconds=4.0)
    await client.close()  # hung up mid-text: its synthesis is cancelled
    client = await WyomingClient.connect(server.host, server.port)
    await client.send(Synthesize(text=unpunctuated(1024)).event())
    await client.read_until("audio-stop", timeout=300)  # a long unpunctuated text, whole
    await client.close()
    await asyncio.sleep(1.0)
    kept = psutil.Process(server.pid).memory_info().rss - baseline
    assert kept < RSS_RETURNED_LIMIT, f"{kept / 2**20:.0f} MB kept (peak +{(peak - baseline) / 2**20:.0f} MB)"
