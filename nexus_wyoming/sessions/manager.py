"""Conversation memory as the intent server uses it: one call before a turn, one after.

    session = await sessions.begin_turn(device_key(context), mode, conversation_id)
    ... answer using session.history and session.context ...
    await sessions.record_turn(session, text, reply, {"llm_ms": 412.0})   # committed on return
    → send the final `handled`

Nothing here raises to the caller because a store is unavailable: reads fall back
(Redis → history store → nothing), and a turn that cannot be written is logged with
its device id and counted in `nexus_sessions_lost_writes_total`.
"""

import asyncio
import logging
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

from ..config import Config, SessionSettings
from ..metrics import REGISTRY
from .context import sanitize_context
from .identity import clean_conversation, clean_device, session_key
from .model import (
    ASSISTANT, USER, DeviceSummary, Message, Session, clean_latencies, clean_mode, storable_text,
)
from .outage import Outage
from .redis_cache import RedisCache
from .response_cache import ResponseCache
from .retention import Retention
from .schema import SchemaError
from .store import HistoryStore, open_store

_LOGGER = logging.getLogger(__name__)
LOST_WRITES = REGISTRY.counter("nexus_sessions_lost_writes_total", "Turns that could not be stored")
_READ = REGISTRY.histogram("nexus_sessions_read_seconds", "Loading a device's session and history")
_WRITE = REGISTRY.histogram("nexus_sessions_write_seconds", "Committing a turn to the history store")


class StoreUnavailable(Exception):
    """The history store could not be written (only raised where the caller must know: contexts)."""


def history_url(settings: SessionSettings, data_dir: Path) -> str:
    """The configured URL, or the embedded SQLite file under the data dir."""
    return settings.history_url or f"sqlite://{(data_dir / 'history.db').resolve()}"


class SessionManager:
    """Sessions, history, device contexts and the response cache of one intent server."""

    def __init__(self, settings: SessionSettings, data_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.store: HistoryStore = open_store(history_url(settings, data_dir), data_dir, settings.sqlite_synchronous)
        max_messages = 2 * settings.recent_turns
        self.redis = (RedisCache(settings.redis_url, settings.session_idle_s, max_messages, settings.retry_max_s)
                      if settings.redis_url else None)
        self.responses = ResponseCache(settings.response_cache_ttl_s, settings.response_cache_entries,
                                       settings.max_message_chars, self.redis)
        self.store_outage = Outage(f"history store {self.store.where}", "answering without history")
        self.default_contexts = _configured_contexts(settings.contexts or {})
        self.retention = Retention(self.store, settings, clock)
        self._retaining: Optional[asyncio.Task] = None

    @staticmethod
    def from_config(config: Config) -> "SessionManager":
        """The manager a config describes."""
        return SessionManager(config.sessions, config.data_path)

    async def start(self, strict: bool = False) -> None:
        """Open the store and Redis; an unreachable store is retried later (raised when `strict`)."""
        try:
            await self.store.open()
        except SchemaError:
            raise
        except Exception as err:  # the server still answers; writes are retried per turn
            if strict:
                raise
            self.store_outage.failed(err)
        if self.redis is not None:
            await self.redis.start()

    def start_retention(self) -> None:
        """Apply retention now and every `retention_interval_s` in the background (the server's job)."""
        if self._retaining is None:
            self._retaining = asyncio.create_task(self.retention.run())

    async def close(self) -> None:
        """Stop retention, close connections."""
        if self._retaining is not None:
            self._retaining.cancel()
            await asyncio.gather(self._retaining, return_exceptions=True)
            self._retaining = None
        await self.store.close()
        if self.redis is not None:
            await self.redis.close()

    async def __aenter__(self) -> "SessionManager":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # ------------------------------------------------------------------ turns

    async def begin_turn(self, device: Optional[str], mode: Optional[str] = None,
                         conversation: Optional[str] = None, from_client: bool = True) -> Session:
        """The active session with its recent history, or a new one; never raises.

        The session is the device's when a device is named, else the conversation's
        (`identity.session_key`). `conversation` is the id the reply carries: a device's
        session continues only while the client sends the same one (another one is a new
        conversation, with no memory); `from_client` False means the server made it up
        because the client sent none, so the device's session continues and takes it.
        A `mode` given becomes the session's mode (stored with the next turn); None keeps it.
        """
        started = time.perf_counter()
        now = self.clock()
        device, conversation = clean_device(device), clean_conversation(conversation)
        key = session_key(device, conversation)
        session = await self._active_session(key, now) if key is not None else None
        if (session is not None and from_client and conversation is not None
                and session.conversation_id not in (None, conversation)):
            session = None  # the device has started another conversation
        if session is None:
            session = Session(uuid.uuid4().hex, key, None, None, now, now)
        session.conversation_id = conversation or session.conversation_id
        session.context = await self.get_context(device) if device is not None else None
        if clean_mode(mode) is not None:
            session.mode = mode
        _READ.observe(time.perf_counter() - started)
        return session

    async def history(self, device: Optional[str], turns: Optional[int] = None) -> list[Message]:
        """The last `turns` turns (default `recent_turns`) of the device's active session, oldest first."""
        device = clean_device(device)
        if device is None:
            return []
        session = await self._active_session(device, self.clock())
        if session is None:
            return []
        count = self.settings.recent_turns if turns is None else max(0, turns)
        if count <= self.settings.recent_turns:
            return session.history[-2 * count:] if count else []
        return await self._read(self.store.recent_messages(session.id, 2 * count), session.history)

    async def record_turn(self, session: Session, user_text: str, reply_text: str,
                          latencies: Optional[dict] = None, partial: bool = False) -> bool:
        """Commit a turn before the reply is final; False (logged, counted) when it could not be stored."""
        if session.anonymous:
            return False
        limit = self.settings.max_message_chars
        now = self.clock()
        messages = [Message(USER, storable_text(user_text, limit), now),
                    Message(ASSISTANT, storable_text(reply_text, limit), now, clean_latencies(latencies),
                            bool(partial))]
        was_new = session.is_new
        session.last_active = now
        session.mode = clean_mode(session.mode)
        # Shielded: a client that disconnects now must not cancel a half-written turn.
        stored = await asyncio.shield(asyncio.ensure_future(self._commit(session, messages)))
        session.is_new = False
        session.history = (session.history + messages)[-2 * self.settings.recent_turns:] \
            if self.settings.recent_turns else []
        if self.redis is not None:
            await self.redis.save(session, messages, replace=was_new)
        return stored

    async def _commit(self, session: Session, messages: list[Message]) -> bool:
        """Write a turn to the store; a failure is logged with the device id and counted."""
        started = time.perf_counter()
        try:
            await self.store.write_turn(session, messages)
        except Exception as err:
            LOST_WRITES.inc()
            _LOGGER.error("turn of device %r not stored in %s (%s: %s)", session.device_id, self.store.where,
                          type(err).__name__, err)
            return False
        _WRITE.observe(time.perf_counter() - started)
        self.store_outage.succeeded()
        return True

    async def _active_session(self, device: str, now: float) -> Optional[Session]:
        """From Redis, else from the store (then cached); None when there is none or it expired."""
        wanted = 2 * self.settings.recent_turns
        if self.redis is not None:
            cached = await self.redis.load(device)
            if cached is not None and now - cached.last_active <= self.settings.session_idle_s:
                cached.history = cached.history[-wanted:] if wanted else []
                return cached
        session = await self._read(self.store.latest_session(device), None)
        if session is None or now - session.last_active > self.settings.session_idle_s:
            return None
        session.history = await self._read(self.store.recent_messages(session.id, wanted), [])
        if self.redis is not None:
            await self.redis.save(session, session.history, replace=True)
        return session

    async def _read(self, query, fallback):
        """A store read, or `fallback` (with one warning per outage) when the store is down."""
        try:
            result = await query
        except Exception as err:
            self.store_outage.failed(err)
            return fallback
        self.store_outage.succeeded()
        return result

    # ------------------------------------------------------------------ contexts

    async def get_context(self, device: Optional[str]) -> Optional[str]:
        """The device's context: set over Wyoming (Redis, then store), else from YAML, else None."""
        device = clean_device(device)
        if device is None:
            return None
        if self.redis is not None:
            known, text = await self.redis.get_context(device)
            if known:
                return text if text is not None else self.default_contexts.get(device)
        sentinel = object()
        stored = await self._read(self.store.get_context(device), sentinel)
        if stored is sentinel:
            return self.default_contexts.get(device)
        if self.redis is not None:
            await self.redis.set_context(device, stored)
        return stored if stored is not None else self.default_contexts.get(device)

    async def set_context(self, device: str, text: str) -> Optional[str]:
        """Sanitize and store a device's context; empty text removes it (YAML's applies again).

        Raises ValueError for a bad device id, ContextRefused for refused text and
        StoreUnavailable when it cannot be stored. Returns the text as stored.
        """
        cleaned_device = clean_device(device)
        if cleaned_device is None:
            raise ValueError("device_id must be a printable string of 1 to 128 characters")
        cleaned = sanitize_context(text) or None
        try:
            await self.store.set_context(cleaned_device, cleaned, self.clock())
        except Exception as err:
            _LOGGER.error("context of device %r not stored in %s (%s: %s)", cleaned_device, self.store.where,
                          type(err).__name__, err)
            raise StoreUnavailable("the history store is unavailable") from err
        if self.redis is not None:
            await self.redis.set_context(cleaned_device, cleaned)
        return cleaned

    # ------------------------------------------------------------------ response cache

    async def cached(self, key: str) -> Optional[str]:
        """A cached answer for `cache_key(...)`; see `cacheable` for when to ask."""
        return await self.responses.get(key)

    async def store_response(self, key: str, text: str) -> None:
        """Cache an answer; see `cacheable` for when to."""
        await self.responses.put(key, text)

    # ------------------------------------------------------------------ operations

    async def devices(self, limit: int = 1000) -> list[DeviceSummary]:
        """Devices with stored sessions, most recent first (raises when the store is down)."""
        return await self.store.devices(limit)

    async def device_sessions(self, device: str, sessions: int = 5, messages: int = 200) -> list[Session]:
        """A device's latest sessions, newest first (raises when the store is down)."""
        return await self.store.device_sessions(device, sessions, messages)

    async def purge(self, older_than_s: float) -> tuple[int, int]:
        """Delete sessions idle for longer than `older_than_s`; returns (sessions, messages)."""
        sessions, messages, devices = await self.store.purge(self.clock() - older_than_s)
        if self.redis is not None and devices and older_than_s < self.settings.session_idle_s:
            await self.redis.forget(devices)
        return sessions, messages


def _configured_contexts(contexts: dict[str, str]) -> dict[str, str]:
    """YAML contexts, checked like those set over Wyoming (a refused one is a config error)."""
    checked = {}
    for device, text in contexts.items():
        if clean_device(device) is None:
            raise ValueError(f"sessions.contexts: {device!r} is not a valid device id")
        try:
            cleaned = sanitize_context(text)
        except ValueError as err:
            raise ValueError(f"sessions.contexts.{device}: {err}") from err
        if cleaned:
            checked[device] = cleaned
    return checked

