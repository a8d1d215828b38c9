"""Sharing the synthesis threads fairly, and refusing work the server cannot hold.

Each request takes one thread turn per voice-model run. When turns wait, the next
free thread goes to the request that has had the fewest, so a short reply for a new
client is served in about its normal time while other clients stream long texts (or
stopped reading and are filling their socket buffers). Text accepted but not yet
spoken is bounded for the whole server; a request beyond it is answered `busy`.
"""

import asyncio
import heapq
import itertools
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable, Optional, TypeVar

T = TypeVar("T")


@dataclass
class Turns:
    """One request's share of the synthesis threads: how many runs it has had."""

    served: int = 0


#: The request the current task synthesizes for; set by the handler, read by FairExecutor.
CURRENT_REQUEST: ContextVar[Optional[Turns]] = ContextVar("tts_request", default=None)


class FairExecutor:
    """A fixed number of worker threads, handed to the least-served waiting request first."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="tts")
        self._running = 0
        self._waiting: list[tuple[int, int, asyncio.Future]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        """Runs queued for a thread now."""
        return sum(1 for *_, ticket in self._waiting if not ticket.done())

    async def run(self, fn: Callable[..., T], *args) -> T:
        """Run `fn(*args)` on a worker thread when it is this request's turn."""
        turns = CURRENT_REQUEST.get()
        await self._turn(turns.served if turns else 0)
        loop = asyncio.get_running_loop()
        try:
            future = self._pool.submit(fn, *args)
        except BaseException:
            self._release()
            raise
        # The thread is free only when the run ends, even if its caller was cancelled meanwhile.
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(self._release))
        try:
            return await asyncio.wrap_future(future)
        finally:
            if turns is not None:
                turns.served += 1

    def shutdown(self) -> None:
        """Stop the threads; queued runs are dropped."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _turn(self, served: int) -> None:
        if self._running < self.workers:  # a free thread means nobody live is waiting
            self._running += 1
            return
        ticket = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (served, next(self._order), ticket))
        try:
            await ticket
        except asyncio.CancelledError:
            if ticket.done() and not ticket.cancelled():  # granted just as we were cancelled: pass it on
                self._release()
            raise

    def _release(self) -> None:
        """A thread is free: give it to the next live waiter, else count it free."""
        while self._waiting:
            *_, ticket = heapq.heappop(self._waiting)
            if not ticket.done():
                ticket.set_result(None)
                return
        self._running -= 1


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


@dataclass
class Reservation:
    """One request's part of the PendingText: taken as text arrives, given back as it is spoken."""

    pending: PendingText
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
