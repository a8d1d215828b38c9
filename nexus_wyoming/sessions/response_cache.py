"""Response cache: the same question in the same mode and context gets the same answer.

Only what is deterministic and time-independent is replayed. The rule (`cacheable`): an
answer is looked up and stored only when
- it is the first turn of a session (a follow-up's answer depends on the history),
- it used no web search and asks for no live fact (results change),
- it does not depend on the date or time ("today", "how many days until", "what time"),
  and the intent server then leaves the clock out of the prompt, so a stored answer
  cannot have used it,
- it asks for nothing varied (a joke, a story, "something random": asked again, the user
  wants another one), and
- it is complete (not a reply cut short by a failing provider).
The key is a hash of (mode, normalized query, device context), so devices with
different contexts never share answers. Entries live `response_cache_ttl_s`.
"""

import hashlib
import json
import time
import unicodedata
from collections import OrderedDict
from typing import Callable, Optional

from .redis_cache import RedisCache

_KEY_VERSION = 1


def normalize_query(text: str) -> str:
    """Case, punctuation and spacing do not make a different question."""
    text = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(ch if ch.isalnum() or ch.isspace() else " " for ch in text)
    return " ".join(kept.split())


def cache_key(mode: Optional[str], query: str, context: Optional[str]) -> str:
    """Hash of (mode, normalized query, device context)."""
    material = json.dumps([_KEY_VERSION, mode or "", normalize_query(query), context or ""], ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8", "replace")).hexdigest()


def cacheable(*, history_turns: int, used_search: bool = False, time_dependent: bool = False,
              varied: bool = False, partial: bool = False) -> bool:
    """Whether an answer may come from, or go to, the response cache (see the module rule)."""
    return history_turns == 0 and not used_search and not time_dependent and not varied and not partial


class ResponseCache:
    """An in-process LRU in front of Redis (when configured); both expire entries after the TTL."""

    def __init__(self, ttl_s: float, entries: int, max_chars: int, redis: Optional[RedisCache] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.entries = entries
        self.max_chars = max_chars
        self.redis = redis
        self.clock = clock
        self._lru: OrderedDict[str, tuple[float, str]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """False when the TTL is 0."""
        return self.ttl_s > 0

    async def get(self, key: str) -> Optional[str]:
        """The cached answer, if any and fresh."""
        if not self.enabled:
            return None
        found = self._lru.get(key)
        if found is not None:
            expires, text = found
            if expires > self.clock():
                self._lru.move_to_end(key)
                return text
            del self._lru[key]
        if self.redis is not None:
            text = await self.redis.get_response(key)
            if text is not None:
                self._remember(key, text)
                return text
        return None

    async def put(self, key: str, text: str) -> None:
        """Cache an answer; oversize answers are not cached."""
        if not self.enabled or not text or len(text) > self.max_chars:
            return
        self._remember(key, text)
        if self.redis is not None:
            await self.redis.set_response(key, text, self.ttl_s)

    def _remember(self, key: str, text: str) -> None:
        if self.entries <= 0:
            return
        self._lru[key] = (self.clock() + self.ttl_s, text)
        self._lru.move_to_end(key)
        while len(self._lru) > self.entries:
            self._lru.popitem(last=False)
