"""Driving the STT server like real clients do, over TCP."""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Optional

from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event, async_read_event

from tests.stt.speech import chunks
from tests.support.client import WyomingClient


@dataclass
class Received:
    """Events from the server with their arrival times (perf_counter)."""

    events: list[tuple[float, Event]] = field(default_factory=list)
    closed: bool = False

    @property
    def types(self) -> list[str]:
        return [e.type for _, e in self.events]

    def first(self, kind: str) -> Optional[Event]:
        return next((e for _, e in self.events if e.type == kind), None)

    def time_of(self, kind: str) -> Optional[float]:
        return next((t for t, e in self.events if e.type == kind), None)


async def collect(client: WyomingClient, into: Received, until: tuple[str, ...] = ("transcript-stop",)) -> None:
    """Read everything until one of `until`, an error, or the end of the connection."""
    while True:
        event = await async_read_event(client.reader)
        if event is None:
            into.closed = True
            return
        into.events.append((time.perf_counter(), event))
        if event.type in until or event.type == "error":
            return
        if event.type == "transcript" and "transcript-start" not in into.types:
            return  # no stream was started: transcript is the last event


async def send_audio(client: WyomingClient, audio: bytes, realtime: bool, rate: int = 16000, width: int = 2,
                     channels: int = 1, size: int = 3200) -> None:
    """audio-chunk events, paced like a microphone when `realtime`."""
    started = time.perf_counter()
    bytes_per_second = rate * width * channels
    sent = 0
    for piece in chunks(audio, size):
        await client.send(AudioChunk(rate=rate, width=width, channels=channels, audio=piece).event())
        sent += len(piece)
        if realtime:
            await asyncio.sleep(max(0.0, started + sent / bytes_per_second - time.perf_counter()))


async def utterance(server, audio: bytes, realtime: bool = False, language: Optional[str] = "en",
                    **transcribe) -> tuple[Received, float]:
    """A streaming client: reads while it sends. Returns what arrived and when audio-stop was sent."""
    client = await WyomingClient.connect(server.host, server.port)
    received = Received()
    try:
        await client.send(Transcribe(language=language, **transcribe).event())
        await client.send(AudioStart(rate=16000, width=2, channels=1).event())
        reader = asyncio.create_task(collect(client, received))
        await send_audio(client, audio, realtime)
        stopped = time.perf_counter()
        await client.send(AudioStop().event())
        async with asyncio.timeout(60):
            await reader
        return received, stopped
    finally:
        await client.close()


async def home_assistant_2025_4(server, audio: bytes, language: str = "en") -> Optional[str]:
    """homeassistant/components/wyoming/stt.py in 2025.4: write everything, audio-stop, then
    read until `transcript` ignoring every other event; None when the connection ends first."""
    client = await WyomingClient.connect(server.host, server.port)
    try:
        await client.send(Transcribe(language=language).event())
        await client.send(AudioStart(rate=16000, width=2, channels=1).event())
        await send_audio(client, audio, realtime=True)
        await client.send(AudioStop().event())
        async with asyncio.timeout(60):
            while True:
                event = await async_read_event(client.reader)
                if event is None:
                    return None
                if event.type == "transcript":
                    return event.data["text"]
    finally:
        await client.close()


def event(kind: str, **data) -> Event:
    return Event(type=kind, data=data)
