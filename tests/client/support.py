"""Client test helpers: the CLI as a subprocess, and tiny TCP servers on 127.0.0.1 for what
our own servers never do (stay silent, speak HTTP, hold a reply)."""

import asyncio
import struct
import subprocess
import sys
import threading
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from wyoming.event import Event, async_read_event, async_write_event

from tests.support.processes import REPO

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

ASR_INFO = {"asr": [{"name": "fake-asr", "models": []}]}
ALL_INFO = {**ASR_INFO, "tts": [{"name": "fake-tts", "voices": []}], "handle": [{"name": "fake-agent", "models": []}]}


def client(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`nexus-wyoming client ARGS`, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "nexus_wyoming", "client", *args],
        capture_output=True, text=True, cwd=REPO, timeout=timeout,
    )


@dataclass
class FakeServer:
    """Runs `handler` for each connection in an event loop of its own thread, so tests stay synchronous."""

    handler: Handler
    port: int = 0
    connections: int = 0
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)

    def __enter__(self) -> "FakeServer":
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.server = asyncio.run_coroutine_threadsafe(asyncio.start_server(self._accept, "127.0.0.1", 0), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: Any) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)

    @property
    def uri(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        finally:
            writer.close()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts and reads, never answers: a hung server."""
    while await reader.read(65536):
        pass


def answers(reply: bytes) -> Handler:
    """Sends `reply` to the first line it gets, then closes (an HTTP or SSH port, say)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(reply)
        await writer.drain()

    return handler


@dataclass
class FakeWyoming:
    """Answers `describe` with `info`, sends `replies[type]` once when that type arrives, and is silent otherwise.

    A reply listed in `holds` waits until the test sets the threading event.
    """

    info: dict[str, Any]
    replies: dict[str, list[Event]] = field(default_factory=dict)
    holds: dict[str, threading.Event] = field(default_factory=dict)
    received: list[Event] = field(default_factory=list)

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (event := await async_read_event(reader)) is not None:
            self.received.append(event)
            if event.type == "describe":
                await async_write_event(Event("info", self.info), writer)
            if event.type in self.holds:
                await asyncio.to_thread(self.holds[event.type].wait, 30)
            for reply in self.replies.pop(event.type, []):
                await async_write_event(reply, writer)

    def audio(self) -> bytes:
        """All PCM received in `audio-chunk` payloads."""
        return b"".join(e.payload or b"" for e in self.received if e.type == "audio-chunk")


def write_silence(path: Path, seconds: float = 0.3, rate: int = 16000) -> Path:
    """A valid 16-bit mono WAV for commands that need one."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\0\0" * int(rate * seconds))
    return path


PCM, FLOAT, EXTENSIBLE = 1, 3, 0xFFFE
#: The SubFormat GUID of WAVE_FORMAT_EXTENSIBLE after its leading 2-byte format tag.
GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")


def riff(tag: int, bits: int, channels: int, rate: int, samples: bytes, extensible: bool) -> bytes:
    """A WAV file as a recorder writes it, with a LIST chunk before the data as some do."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", EXTENSIBLE if extensible else tag, channels, rate, rate * block, block, bits)
    if extensible:
        fmt += struct.pack("<HHI", 22, bits, 0x4 if channels == 1 else 0x3) + struct.pack("<H", tag) + GUID_TAIL
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"LIST\x05\0\0\0INFOx\0" + b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks
