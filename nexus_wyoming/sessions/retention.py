"""History retention, applied by the intent server at start and then every `retention_interval_s`:
sessions idle for over `retention_days` are deleted, and each device keeps only its newest
`max_turns_per_device` turns. A few statements per run, so the store stays bounded however
many turns clients send (the per-peer turn rate limit bounds how fast they can).
"""

import asyncio
import logging
import time
from typing import Callable

from ..config import SessionSettings
from .store import HistoryStore

_LOGGER = logging.getLogger(__name__)
DAY_S = 86400.0


class Retention:
    """Deletes history past the configured age and per-device count."""

    def __init__(self, store: HistoryStore, settings: SessionSettings, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    async def apply(self) -> tuple[int, int]:
        """One pass; returns (sessions, messages) deleted."""
        sessions = messages = 0
        if self.settings.retention_days > 0:
            before = self.clock() - self.settings.retention_days * DAY_S
            sessions, messages, _ = await self.store.purge(before)
        if self.settings.max_turns_per_device > 0:
            trimmed_sessions, trimmed = await self.store.trim(2 * self.settings.max_turns_per_device)
            sessions, messages = sessions + trimmed_sessions, messages + trimmed
        if sessions or messages:
            _LOGGER.info("retention: deleted %d session(s) and %d message(s)", sessions, messages)
        return sessions, messages

    async def run(self) -> None:
        """Apply now, then every interval, until cancelled; a failed pass is logged and retried next time."""
        while True:
            try:
                await self.apply()
            except Exception as err:  # the store may be down: the next pass catches up
                _LOGGER.warning("retention pass failed (%s: %s); next in %g s", type(err).__name__, err,
                                self.settings.retention_interval_s)
            await asyncio.sleep(self.settings.retention_interval_s)
