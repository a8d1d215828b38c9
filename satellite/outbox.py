"""Events to Home Assistant, sent by their own task so the microphone never waits on the network.

The mic loop only `put`s; a stalled Home Assistant fills a bounded queue, and then the
oldest audio is dropped (never a control event such as run-pipeline or audio-stop), with
one log line when a stall starts and one when it ends. A send that stalls for
SEND_TIMEOUT_S, or fails, ends the connection through `on_dead`. The kernel's send buffer
is bounded too (`bound_send_buffer`): autotuned, it grows to megabytes (minutes of audio on
loopback), which would hold stale audio before ours and hide the stall from the limit.
"""

import asyncio
import logging
import socket
from collections import deque
from typing import Callable, Optional

from wyoming.audio import AudioChunk
from wyoming.event import Event

from nexus_wyoming.protocol.server import ClientGone, Connection

_LOGGER = logging.getLogger(__name__)
SEND_TIMEOUT_S = 5.0
MAX_QUEUED_AUDIO = 100  # mic chunks (~30 ms each): about 3 s of speech held for a slow link
SEND_BUFFER_BYTES = 32 * 1024  # Linux doubles it: about 2 s of audio in the kernel, not minutes


def bound_send_buffer(writer: asyncio.StreamWriter, size: int = SEND_BUFFER_BYTES) -> None:
    """Cap what the kernel holds for this connection (a fixed size also stops autotuning)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        except OSError as err:
            _LOGGER.debug("cannot bound the send buffer of %s: %s", writer.get_extra_info("peername"), err)


class Outbox:
    """One connection's outgoing events, in order, with a bounded backlog of audio."""

    def __init__(self, connection: Connection, on_dead: Callable[[Connection], None],
                 max_audio: int = MAX_QUEUED_AUDIO) -> None:
        self.connection = connection
        self.on_dead = on_dead
        self.max_audio = max_audio
        self._events: deque[Event] = deque()
        self._audio = 0
        self._ready = asyncio.Event()
        self.dropped = 0
        self._task: Optional[asyncio.Task] = asyncio.create_task(self._run(), name=f"outbox-{connection.peer}")

    def put(self, event: Event) -> None:
        """Queue an event; never blocks. Over the audio bound, the oldest queued chunk goes."""
        if self._task is None:
            return
        if AudioChunk.is_type(event.type):
            if self._audio >= self.max_audio:
                self._drop_oldest_audio()
            self._audio += 1
        self._events.append(event)
        self._ready.set()

    def _drop_oldest_audio(self) -> None:
        for index, queued in enumerate(self._events):
            if AudioChunk.is_type(queued.type):
                del self._events[index]
                self._audio -= 1
                if not self.dropped:
                    _LOGGER.warning("Home Assistant at %s is not keeping up: dropping the oldest audio",
                                    self.connection.peer)
                self.dropped += 1
                return

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            while self._events:
                event = self._events.popleft()
                if AudioChunk.is_type(event.type):
                    self._audio -= 1
                try:
                    async with asyncio.timeout(SEND_TIMEOUT_S):
                        await self.connection.write_event(event)
                except (ClientGone, TimeoutError):
                    self._task = None
                    self.on_dead(self.connection)
                    return
                if self.dropped and not self._events:
                    _LOGGER.warning("Home Assistant at %s caught up; %d audio chunks were dropped",
                                    self.connection.peer, self.dropped)
                    self.dropped = 0
            self._ready.clear()

    def close(self) -> None:
        """Stop sending (what is queued is dropped)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        self._events.clear()
