"""One blocking job at a time in a worker thread, with a bounded line of waiters.

A model decodes fastest alone (its threads already use every core), so jobs run one
after another; when `max_waiting` callers already wait, the next one gets
SttBusyError at once instead of queueing without bound. A cancelled waiter leaves
the line; a cancelled running job is told through `cancelled()` and the next job
starts only after its thread has really finished.
"""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

from .engine import SttBusyError

T = TypeVar("T")
#: A job receives a function telling it whether its caller gave up.
Job = Callable[[Callable[[], bool]], T]


class SerialRunner:
    """Runs jobs one at a time, FIFO, with at most `max_waiting` waiting."""

    def __init__(self, max_waiting: int, name: str) -> None:
        self.max_waiting = max_waiting
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._lock = asyncio.Lock()
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """Callers in line (not counting the running job)."""
        return self._waiting

    async def run(self, job: Job) -> T:
        """Run `job` when its turn comes; SttBusyError if the line is full."""
        if self._lock.locked() and self._waiting >= self.max_waiting:
            raise SttBusyError(f"{self._waiting} decodes already waiting")
        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        gave_up = threading.Event()
        future = asyncio.get_running_loop().run_in_executor(self._executor, job, gave_up.is_set)
        release_when_done = False
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if not future.done():  # the thread is still decoding: free the model when it stops
                gave_up.set()
                future.add_done_callback(self._release)
                release_when_done = True
            raise
        finally:
            if not release_when_done:
                self._lock.release()

    def _release(self, future: asyncio.Future) -> None:
        if not future.cancelled():
            future.exception()  # retrieved: nobody waits for this result any more
        self._lock.release()

    def shutdown(self) -> None:
        """Stop the worker thread once the running job ends."""
        self._executor.shutdown(wait=False, cancel_futures=True)
