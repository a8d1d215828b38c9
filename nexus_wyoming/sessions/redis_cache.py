"""Redis as a shared cache of recent history, contexts and responses, per device.

Never the source of truth: a miss, or Redis being down, falls back to the history store.
While Redis is down every call returns at once (after one warning), it is retried with
backoff, and keys that went stale meanwhile are deleted before caching resumes.
"""

import asyncio
import json
import logging
from typing import Any, Awaitable, Callable, Optional, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .model import Message, Session
from .outage import Backoff, Outage, Unavailable

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")
PREFIX = "nexus:v1:"
_TIMEOUT_S = 0.5
_MAX_DIRTY = 10_000
_NO_CONTEXT = json.dumps({"text": None})


def _key(kind: str, name: str) -> str:
    return f"{PREFIX}{kind}:{name}"


def _session(summary: Any, device: str) -> Session:
    """A cached session summary, checked (another server version may have written it)."""
    if not isinstance(summary, dict) or not isinstance(summary.get("id"), str):
        raise ValueError("bad session")
    times = [summary.get("created"), summary.get("last_active")]
    if not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in times):
        raise ValueError("bad session times")
    texts = [summary.get("mode"), summary.get("context"), summary.get("conversation_id")]
    if not all(t is None or isinstance(t, str) for t in texts):
        raise ValueError("bad session texts")
    return Session(summary["id"], device, texts[0], texts[1], float(times[0]), float(times[1]), is_new=False,
                   conversation_id=texts[2])


class RedisCache:
    """Recent history per device, with the session's idle time as TTL."""

    def __init__(self, url: str, ttl_s: float, max_messages: int, retry_max_s: float) -> None:
        self.client = aioredis.from_url(
            url, socket_timeout=_TIMEOUT_S, socket_connect_timeout=_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0), health_check_interval=0,
        )
        self.ttl_ms = int(ttl_s * 1000)
        self.max_messages = max_messages
        self.backoff = Backoff(retry_max_s)
        self.outage = Outage(f"redis {url.rsplit('@', 1)[-1]}", "using the history store only")
        self._dirty: set[str] = set()
        self._dirty_overflow = False

    async def start(self) -> None:
        """Check the connection; Redis being down is logged, not raised."""
        try:
            await self._call(self.client.ping)
        except Unavailable:
            pass

    async def close(self) -> None:
        """Close connections."""
        await self.client.aclose()

    @property
    def available(self) -> bool:
        """False during an outage."""
        return not self.outage.down

    async def _call(self, operation: Callable[[], Awaitable[T]], device: Optional[str] = None) -> T:
        """Run one operation unless in backoff; a write that cannot run leaves the device stale."""
        if not self.backoff.ready():
            self._mark_dirty(device)
            raise Unavailable(self.outage.name)
        try:
            if self.outage.down:
                await asyncio.wait_for(self._forget_stale(), _TIMEOUT_S * 4)
            result = await asyncio.wait_for(operation(), _TIMEOUT_S * 2)
        except (aioredis.RedisError, OSError, TimeoutError, ValueError) as err:
            self.backoff.failed()
            self.outage.failed(err)
            self._mark_dirty(device)
            raise Unavailable(self.outage.name) from err
        self.backoff.succeeded()
        self.outage.succeeded()
        return result

    def _mark_dirty(self, device: Optional[str]) -> None:
        if device is None:
            return
        if len(self._dirty) >= _MAX_DIRTY:
            self._dirty_overflow = True
        else:
            self._dirty.add(device)

    async def _forget_stale(self) -> None:
        """Before trusting Redis again, delete what we could not update while it was away."""
        if self._dirty_overflow:
            async for key in self.client.scan_iter(match=PREFIX + "*", count=1000):
                if not key.startswith(_key("response", "").encode()):
                    await self.client.unlink(key)
        elif self._dirty:
            keys = [_key(kind, device) for device in self._dirty for kind in ("session", "history", "context")]
            await self.client.unlink(*keys)
        self._dirty.clear()
        self._dirty_overflow = False

    async def load(self, device: str) -> Optional[Session]:
        """The device's cached session with its recent messages; None on a miss or outage."""
        async def read() -> list:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.get(_key("session", device))
                if self.max_messages:
                    pipe.lrange(_key("history", device), -self.max_messages, -1)
                return await pipe.execute()

        try:
            raw_session, *raw_messages = await self._call(read)
        except Unavailable:
            return None
        if raw_session is None:
            return None
        try:
            summary = json.loads(raw_session)
            session = _session(summary, device)
            session.history = [Message.from_json(json.loads(item)) for item in (raw_messages or [[]])[0]]
        except (ValueError, TypeError, KeyError):
            _LOGGER.warning("ignoring a malformed cache entry for device %r", device)
            return None
        if self.max_messages and summary.get("messages") and not session.history:
            return None  # the list was evicted on its own: ask the store
        return session

    async def save(self, session: Session, messages: list[Message], replace: bool) -> None:
        """Cache a session and new messages (all of its recent ones when `replace`)."""
        device = session.device_id
        assert device is not None
        history = _key("history", device)
        summary = {**session.summary(), "messages": bool(session.history or messages)}

        async def write() -> None:
            async with self.client.pipeline(transaction=True) as pipe:
                if replace:
                    pipe.delete(history)
                if messages and self.max_messages:
                    pipe.rpush(history, *[json.dumps(m.to_json(), ensure_ascii=False) for m in messages])
                    pipe.ltrim(history, -self.max_messages, -1)
                    pipe.pexpire(history, self.ttl_ms)
                pipe.set(_key("session", device), json.dumps(summary, ensure_ascii=False), px=self.ttl_ms)
                await pipe.execute()

        try:
            await self._call(write, device)
        except Unavailable:
            pass

    async def get_context(self, device: str) -> tuple[bool, Optional[str]]:
        """(known, text): known is False on a miss or an outage."""
        try:
            raw = await self._call(lambda: self.client.get(_key("context", device)))
        except Unavailable:
            return False, None
        if raw is None:
            return False, None
        try:
            text = json.loads(raw).get("text")
        except (ValueError, AttributeError):
            return False, None
        return True, text if isinstance(text, str) else None

    async def set_context(self, device: str, text: Optional[str]) -> None:
        """Cache a device's context (None: known to have none)."""
        value = _NO_CONTEXT if text is None else json.dumps({"text": text}, ensure_ascii=False)
        try:
            await self._call(lambda: self.client.set(_key("context", device), value, px=self.ttl_ms), device)
        except Unavailable:
            pass

    async def forget(self, devices: list[str]) -> None:
        """Drop cached sessions of these devices (after a purge)."""
        keys = [_key(kind, device) for device in devices for kind in ("session", "history")]
        for start in range(0, len(keys), 1000):
            try:
                await self._call(lambda chunk=keys[start:start + 1000]: self.client.unlink(*chunk))
            except Unavailable:
                self._dirty_overflow = True
                return

    async def get_response(self, key: str) -> Optional[str]:
        """A cached answer."""
        try:
            raw = await self._call(lambda: self.client.get(_key("response", key)))
        except Unavailable:
            return None
        return raw.decode("utf-8", "replace") if raw is not None else None

    async def set_response(self, key: str, text: str, ttl_s: float) -> None:
        """Cache an answer."""
        try:
            await self._call(lambda: self.client.set(_key("response", key), text, px=max(1, int(ttl_s * 1000))))
        except Unavailable:
            pass
