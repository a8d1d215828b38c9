"""How long a turn waits for web search: started first, awaited with the mode's bound.

`parallel` (planning) waits a short time (800 ms) and answers with or without results;
`sequential` (detailed) waits for the results, bounded by a longer limit. Either way
the search runs while the session loads, a late search is cancelled (no task left
behind), and a failed one only means an answer without results.
"""

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Optional

from .provider import SearchError, SearchProvider, SearchResult

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchOutcome:
    """What a turn got from search, for the prompt and the metrics."""

    status: str  # "skipped" | "ok" | "empty" | "late" | "error"
    results: list[SearchResult] = field(default_factory=list)
    ms: Optional[float] = None

    @property
    def used(self) -> bool:
        """True when results went into the prompt (such answers are never cached)."""
        return bool(self.results)


SKIPPED = SearchOutcome("skipped")


class PendingSearch:
    """A search running in the background since the turn began."""

    def __init__(self, provider: SearchProvider, query: str) -> None:
        self.started = time.perf_counter()
        self._task = asyncio.create_task(provider.search(query))

    async def outcome(self, wait_s: float) -> SearchOutcome:
        """The results if they arrive within `wait_s` of the start; the search is cancelled otherwise."""
        remaining = self.started + wait_s - time.perf_counter()
        done, _ = await asyncio.wait({self._task}, timeout=max(0.0, remaining))
        elapsed_ms = (time.perf_counter() - self.started) * 1000
        if not done:
            await self.cancel()
            _LOGGER.info("web search took over %.0f ms; answering without it", wait_s * 1000)
            return SearchOutcome("late", ms=elapsed_ms)
        try:
            results = self._task.result()
        except SearchError as err:
            _LOGGER.warning("web search failed (%s); answering without it", err)
            return SearchOutcome("error", ms=elapsed_ms)
        except Exception:  # a bug in a provider must not cost the reply
            _LOGGER.exception("web search failed unexpectedly; answering without it")
            return SearchOutcome("error", ms=elapsed_ms)
        return SearchOutcome("ok" if results else "empty", results, elapsed_ms)

    async def cancel(self) -> None:
        """Stop the search (the client left, or it is no longer needed)."""
        if not self._task.done():
            self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
