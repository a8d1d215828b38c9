"""The outbox between the microphone and Home Assistant: a stalled link never blocks capture."""

import asyncio
import logging
import time

from wyoming.audio import AudioChunk, AudioStop
from wyoming.pipeline import PipelineStage, RunPipeline

from nexus_wyoming.protocol.server import ClientGone
from satellite import outbox as outbox_module
from satellite.outbox import Outbox


class StalledConnection:
    """A Home Assistant that stops reading: each write waits until `unblock` is set."""

    peer = "10.0.0.9:4242"

    def __init__(self) -> None:
        self.unblock = asyncio.Event()
        self.sent: list[str] = []
        self.gone = False

    async def write_event(self, event) -> None:
        await self.unblock.wait()
        if self.gone:
            raise ClientGone(self.peer)
        self.sent.append(event.type if event.type != "audio-chunk" else f"chunk{event.payload[0]}")


def chunk(n: int):
    return AudioChunk(rate=16000, width=2, channels=1, audio=bytes([n % 256]) * 960).event()


async def test_puts_never_wait_and_the_oldest_audio_goes_first(caplog):
    caplog.set_level(logging.WARNING)
    connection = StalledConnection()
    dead = []
    box = Outbox(connection, dead.append, max_audio=10)
    box.put(RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event())
    started = time.monotonic()
    for n in range(1, 1001):  # 30 s of mic audio while Home Assistant reads nothing
        box.put(chunk(n))
    box.put(AudioStop().event())
    assert time.monotonic() - started < 0.5  # the mic loop was never held up
    await asyncio.sleep(0.05)
    connection.unblock.set()
    await asyncio.sleep(0.05)
    # control events all kept, in order; of the audio only the newest ten
    assert connection.sent[0] == "run-pipeline" and connection.sent[-1] == "audio-stop"
    assert connection.sent[1:-1] == [f"chunk{n % 256}" for n in range(991, 1001)]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and "dropping the oldest audio" in warnings[0] and "990 audio chunks" in warnings[1]
    assert not dead
    box.close()


async def test_a_send_that_stalls_too_long_ends_the_connection(monkeypatch):
    monkeypatch.setattr(outbox_module, "SEND_TIMEOUT_S", 0.2)
    connection = StalledConnection()
    dead = []
    box = Outbox(connection, dead.append)
    box.put(chunk(1))
    await asyncio.sleep(0.5)
    assert dead == [connection]
    box.put(chunk(2))  # after the end: ignored, no error
    box.close()


async def test_a_vanished_client_ends_the_connection():
    connection = StalledConnection()
    connection.gone = True
    connection.unblock.set()
    dead = []
    box = Outbox(connection, dead.append)
    box.put(chunk(1))
    await asyncio.sleep(0.05)
    assert dead == [connection]
