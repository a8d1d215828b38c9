"""Per-peer rate limits (turns, paid calls): a token bucket per key, refilled continuously.

A key may spend `per_minute` at once, then one more every 60/`per_minute` seconds, so a
burst is allowed and a steady flood is held to the rate. Memory is bounded: past
`max_keys`, keys whose buckets are full again (idle peers) are forgotten first.
"""

import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """At most `per_minute` events per key, sustained; 0 means no limit."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, key: str) -> bool:
        """Spend one event for `key`; False (nothing spent) when it is over its rate."""
        if self.per_minute <= 0:
            return True
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._make_room(now)
            bucket = self._buckets[key] = _Bucket(float(self.per_minute), now)
        bucket.tokens = min(self.per_minute, bucket.tokens + (now - bucket.updated) * self.per_minute / 60)
        bucket.updated = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _make_room(self, now: float) -> None:
        """Forget idle keys (or, if none is idle, the oldest) once there are `max_keys`."""
        if len(self._buckets) < self.max_keys:
            return
        refill_s = 60.0
        idle = [k for k, b in self._buckets.items() if now - b.updated >= refill_s]
        for key in idle or [next(iter(self._buckets))]:
            del self._buckets[key]


def peer_host(peer: str) -> str:
    """The address part of "HOST:PORT" (a client's connections share its limits)."""
    host, sep, port = peer.rpartition(":")
    return host if sep and port.isdigit() else peer
