"""`--event-uri`: tell a Wyoming event service what the satellite does, as wyoming-satellite does.

The service (an LED ring, a logger) is a Wyoming server we connect to as a client; it
gets run-satellite, detection, streaming-started/stopped, voice-started/stopped,
transcript, synthesize, played, timer and error events, never audio. It can never hold
up the microphone or a turn: `send` only queues (at most QUEUE_SIZE, the oldest dropped
first) and a task delivers, reconnecting with backoff while the service is away.
"""

import asyncio
import collections
import contextlib
import logging
from typing import Optional

from wyoming.event import Event

from nexus_wyoming.client.connection import ClientConnection, parse_uri
from nexus_wyoming.protocol.server import ClientGone

_LOGGER = logging.getLogger(__name__)
QUEUE_SIZE = 64
CONNECT_TIMEOUT_S = 3.0  # also bounds a write the service does not read
RETRY_MIN_S = 0.5
RETRY_MAX_S = 10.0


class EventService:
    """Best-effort delivery of satellite events to one Wyoming server."""

    def __init__(self, uri: str, queue_size: int = QUEUE_SIZE, retry_min_s: float = RETRY_MIN_S,
                 retry_max_s: float = RETRY_MAX_S) -> None:
        self.uri = str(parse_uri(uri))  # ValueError: a bad --event-uri stops the start (exit 2)
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.queue: collections.deque[Event] = collections.deque(maxlen=queue_size)
        self.dropped = 0
        self.sent = 0
        self._ready = asyncio.Event()
        self._task: Optional[asyncio.Task] = None

    def send(self, event: Event) -> None:
        """Queue `event` for the service; never waits (a full queue loses its oldest event)."""
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
        self.queue.append(event)
        self._ready.set()
        if self._task is None:
            self._task = asyncio.create_task(self._deliver(), name="event-service")

    async def close(self) -> None:
        """Stop delivering; what is still queued is dropped."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _deliver(self) -> None:
        delay = self.retry_min_s
        link: Optional[ClientConnection] = None
        warned = False
        try:
            while True:
                await self._ready.wait()
                if link is None:
                    try:
                        link = await ClientConnection.open(self.uri, CONNECT_TIMEOUT_S)
                        _LOGGER.info("event service %s connected", self.uri)
                    except OSError as err:
                        if not warned:
                            _LOGGER.warning("event service %s unreachable (%s); retrying", self.uri, err)
                            warned = True
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, self.retry_max_s)
                        continue
                sent = self.sent
                link = await self._drain(link)
                if link is None and self.sent == sent:  # it took nothing: wait before the next try
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry_max_s)
                elif self.sent > sent:
                    delay, warned = self.retry_min_s, False
        finally:
            if link is not None:
                _hang_up(link)

    async def _drain(self, link: ClientConnection) -> Optional[ClientConnection]:
        """Send what is queued; the link, or None once it failed (the event then waits for the next one)."""
        while self.queue:
            event = self.queue.popleft()
            try:
                await asyncio.wait_for(link.send(event), CONNECT_TIMEOUT_S)
            except (OSError, ClientGone, TimeoutError) as err:
                _LOGGER.warning("event service %s lost (%s); reconnecting", self.uri, err or "write stalled")
                if len(self.queue) < (self.queue.maxlen or 0):
                    self.queue.appendleft(event)
                else:
                    self.dropped += 1
                _hang_up(link)
                return None
            self.sent += 1
        self._ready.clear()
        return link


def _hang_up(link: ClientConnection) -> None:
    """Close at once: a polite close would wait for a service that reads nothing."""
    link.connection.writer.transport.abort()


class NoEventService:
    """No --event-uri: events go nowhere."""

    def send(self, event: Event) -> None:
        """Drop it."""

    async def close(self) -> None:
        """Nothing to close."""


def make_event_service(uri: Optional[str]):
    """The service for `event_uri`, or one that drops everything."""
    return EventService(uri) if uri else NoEventService()
