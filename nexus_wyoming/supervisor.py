"""`nexus-wyoming serve`: every server as its own process, restarted when it crashes.

Separate processes keep a crash or a GIL-heavy model in one server from stalling the
others; the supervisor only starts, watches, restarts with backoff and stops them.
"""

import asyncio
import logging
import signal
import sys
import time
from dataclasses import dataclass
from typing import Optional

_LOGGER = logging.getLogger(__name__)
CONFIG_ERROR = 2
_HEALTHY_AFTER_S = 60.0


@dataclass
class Child:
    """One server process and its restart state."""

    kind: str
    argv: list[str]
    process: Optional[asyncio.subprocess.Process] = None
    backoff_s: float = 1.0


class Supervisor:
    """Runs the given server kinds until SIGTERM/SIGINT."""

    def __init__(self, kinds: list[str], args: list[str], max_backoff_s: float = 30.0, stop_timeout_s: float = 20.0) -> None:
        self.children = [Child(kind, [sys.executable, "-m", "nexus_wyoming", kind, *args]) for kind in kinds]
        self.max_backoff_s = max_backoff_s
        self.stop_timeout_s = stop_timeout_s
        self._stopping = asyncio.Event()
        self.exit_code = 0

    async def run(self) -> int:
        """Start everything, keep it running, stop it all on a signal; returns the exit code."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)
        watchers = [asyncio.create_task(self._keep_running(child)) for child in self.children]
        await self._stopping.wait()
        await self._stop_all()
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        return self.exit_code

    async def _keep_running(self, child: Child) -> None:
        first_start = True
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                child.process = await asyncio.create_subprocess_exec(*child.argv)
                code: object = await child.process.wait()
            except OSError as err:  # cannot even start it: say so, and keep trying
                code = f"start failure ({err})"
            if self._stopping.is_set():
                return
            if code == CONFIG_ERROR and first_start:  # later, the others must not go down with it
                _LOGGER.error("%s server refused its configuration; stopping everything", child.kind)
                self.exit_code = CONFIG_ERROR
                self._stopping.set()
                return
            first_start = False
            if time.monotonic() - started > _HEALTHY_AFTER_S:
                child.backoff_s = 1.0
            _LOGGER.error("%s server exited with code %s; restarting in %.0f s", child.kind, code, child.backoff_s)
            try:
                await asyncio.wait_for(self._stopping.wait(), child.backoff_s)
            except TimeoutError:
                pass
            child.backoff_s = min(child.backoff_s * 2, self.max_backoff_s)

    async def _stop_all(self) -> None:
        running = [c.process for c in self.children if c.process is not None and c.process.returncode is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in running)), self.stop_timeout_s)
        except TimeoutError:
            for process in running:
                if process.returncode is None:
                    process.kill()
            await asyncio.gather(*(p.wait() for p in running))
