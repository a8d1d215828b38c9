"""Test doubles (not the real servers): a tiny intent server speaking the Wyoming handle protocol,
and an event service for --event-uri.

It answers like the real one (streamed `handled-*` with the compatibility `handled`, or
`handled` alone), with a reply the test chooses, and records what it was sent, so the
satellite's device context can be checked; the real intent server has its own test in
test_standalone.py.
"""

import asyncio
from dataclasses import dataclass, field
from typing import Optional

from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Attribution, HandleProgram, Info

REPLY = ["It is three o'clock.", "Anything else?"]


@dataclass
class Listening:
    """A Wyoming server on 127.0.0.1 (port 0: any free one); subclasses say how to `_serve` a client."""

    port: int = 0
    _server: Optional[asyncio.AbstractServer] = None

    async def start(self, port: int = 0):
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
        raise NotImplementedError


@dataclass
class IntentDouble(Listening):
    """Answers every `transcript` with `reply`, streamed sentence by sentence (or all at once)."""

    streaming: bool = True
    delay_s: float = 0.0
    reply: list[str] = field(default_factory=lambda: list(REPLY))
    received: list[dict] = field(default_factory=list)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (event := await async_read_event(reader)) is not None:
                if event.type == "describe":
                    program = HandleProgram(name="intent-double", description="test double", installed=True,
                                            attribution=Attribution("tests", ""), version="0", models=[],
                                            supports_handled_streaming=self.streaming)
                    await async_write_event(Info(handle=[program]).event(), writer)
                elif event.type == "transcript":
                    self.received.append(event.data)
                    await self._answer(writer)
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(self.delay_s)
        if not self.streaming:
            await async_write_event(Event("handled", {"text": " ".join(self.reply)}), writer)
            return
        await async_write_event(Event("handled-start"), writer)
        for sentence in self.reply:
            await async_write_event(Event("handled-chunk", {"text": sentence + " "}), writer)
        await async_write_event(Event("handled", {"text": " ".join(self.reply)}), writer)
        await async_write_event(Event("handled-stop"), writer)


@dataclass
class EventCollector(Listening):
    """An event service (--event-uri) that records the type of every event it is sent, or reads nothing."""

    reads: bool = True
    types: list[str] = field(default_factory=list)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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
