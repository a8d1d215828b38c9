"""Health of a backend (Redis, the history store): one warning per outage, not one per request."""

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

_LOGGER = logging.getLogger(__name__)


class Unavailable(Exception):
    """The backend is down, or waiting out its backoff before the next try."""


@dataclass
class Outage:
    """Logs the first failure of an outage as a warning and the recovery as info."""

    name: str
    fallback: str
    down_since: Optional[float] = None

    @property
    def down(self) -> bool:
        """True between a failure and the next success."""
        return self.down_since is not None

    def failed(self, err: BaseException) -> None:
        """Record a failure; only the first of an outage is a warning."""
        if self.down_since is None:
            self.down_since = time.monotonic()
            _LOGGER.warning("%s unavailable (%s: %s); %s until it is back",
                            self.name, type(err).__name__, err, self.fallback)
        else:
            _LOGGER.debug("%s still unavailable: %s", self.name, err)

    def succeeded(self) -> bool:
        """Record a success; True when it ends an outage."""
        if self.down_since is None:
            return False
        _LOGGER.info("%s is back after %.1f s", self.name, time.monotonic() - self.down_since)
        self.down_since = None
        return True


@dataclass
class Backoff:
    """When to try a failed backend again: doubling waits from `first_s` up to `max_s`."""

    max_s: float
    first_s: float = 0.25
    clock: Callable[[], float] = time.monotonic
    _wait: float = 0.0
    _next: float = field(default=0.0)

    def ready(self) -> bool:
        """May we try now?"""
        return self.clock() >= self._next

    def failed(self) -> None:
        """Push the next try further out."""
        self._wait = min(self.max_s, max(self.first_s, self._wait * 2))
        self._next = self.clock() + self._wait

    def succeeded(self) -> None:
        """Try again on every request."""
        self._wait = 0.0
        self._next = 0.0
