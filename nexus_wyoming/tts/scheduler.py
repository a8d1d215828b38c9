"""Sharing the synthesis threads fairly, and refusing work the server cannot hold.

Each voice-model run takes a thread. When runs wait, the next free thread goes to the
request with the least text left to speak (shortest remaining first), so a new
client's short reply goes before the long texts others are streaming, even those that
arrived just before it. A request whose listener is more than
`RELAXED_AHEAD_S` ahead (audio sent minus time elapsed: seconds buffered, or a client
that stopped reading) never takes the last free thread, which stays for such a reply.
Text accepted but not yet spoken is bounded for the whole server; beyond it, `busy`.
"""

import asyncio
import itertools
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable, Optional, TypeVar

T = TypeVar("T")

#: A listener with this much audio in hand can wait for a newcomer's first words.
RELAXED_AHEAD_S = 5.0


@dataclass
class _Waiter:
    remaining: int
    order: int
    relaxed: bool
    ticket: asyncio.Future


class FairExecutor:
    """A fixed number of worker threads, handed to the waiting request with the least text left."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="tts")
        self._running: list[bool] = []  # relaxed? per run holding a thread
        self._waiting: list[_Waiter] = []
        self._order = itertools.count()

    async def run(self, fn: Callable[..., T], *args) -> T:
        """Run `fn(*args)` on a worker thread when it is this request's turn."""
        request = CURRENT_REQUEST.get()
        relaxed = request is not None and request.ahead_s() > RELAXED_AHEAD_S
        await self._turn(request.held if request else 0, relaxed)
        loop = asyncio.get_running_loop()
        try:
            future = self._pool.submit(fn, *args)
        except BaseException:
            self._release(relaxed)
            raise
        # The thread is free only when the run ends, even if its caller was cancelled meanwhile.
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(self._release, relaxed))
        return await asyncio.wrap_future(future)

    def shutdown(self) -> None:
        """Stop the threads; queued runs are dropped."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _may_run(self, relaxed: bool) -> bool:
        free = self.workers - len(self._running)
        return free > 1 or (free == 1 and (not relaxed or self.workers == 1))

    async def _turn(self, remaining: int, relaxed: bool) -> None:
        if self._may_run(relaxed):  # then no waiter may: each release grants all that can run
            self._running.append(relaxed)
            return
        waiter = _Waiter(remaining, next(self._order), relaxed, asyncio.get_running_loop().create_future())
        self._waiting.append(waiter)
        try:
            await waiter.ticket
        except asyncio.CancelledError:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
            elif waiter.ticket.done() and not waiter.ticket.cancelled():  # granted as we were cancelled
                self._release(relaxed)
            raise

    def _release(self, relaxed: bool) -> None:
        """A run ended: its thread goes to the waiters allowed to run, least text left first."""
        self._running.remove(relaxed)
        for waiter in sorted(self._waiting, key=lambda w: (w.remaining, w.order)):
            if waiter.ticket.cancelled():  # its client left; its task has not cleaned up yet
                self._waiting.remove(waiter)
            elif self._may_run(waiter.relaxed):
                self._waiting.remove(waiter)
                self._running.append(waiter.relaxed)
                waiter.ticket.set_result(None)


class Busy(Exception):
    """The server holds as much unspoken text as it may; answered with error `busy`."""


class PendingText:
    """Characters accepted and not yet spoken, all connections together."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chars = 0

    def reserve(self, chars: int) -> None:
        """Take `chars` more; Busy when that would pass the limit."""
        if self.chars + chars > self.limit:
            raise Busy(f"the server has {self.chars} characters waiting to be spoken (limit {self.limit})")
        self.chars += chars

    def release(self, chars: int) -> None:
        """Give back `chars` (spoken or dropped)."""
        self.chars = max(0, self.chars - chars)


#: The request the current task synthesizes for; set by the handler, read by FairExecutor.
CURRENT_REQUEST: ContextVar[Optional["Reservation"]] = ContextVar("tts_request", default=None)


@dataclass
class Reservation:
    """One request's part of the PendingText: taken as text arrives, given back as it is spoken.

    It is also the request's scheduling priority: `held` is its text left to speak,
    `ahead_s` how far its listener is ahead (audio sent minus time elapsed).
    """

    pending: PendingText
    ahead_s: Callable[[], float] = lambda: 0.0
    held: int = 0

    def add(self, chars: int) -> None:
        """Reserve more text for this request; Busy when the server is full."""
        self.pending.reserve(chars)
        self.held += chars

    def spend(self, chars: int) -> None:
        """`chars` of this request were spoken (or skipped)."""
        chars = min(chars, self.held)
        self.held -= chars
        self.pending.release(chars)

    def close(self) -> None:
        """The request ended: give back everything still held."""
        self.spend(self.held)
