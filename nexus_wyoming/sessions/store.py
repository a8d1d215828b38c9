"""The history store: sessions, messages and device contexts in SQLite or PostgreSQL.

The store is the source of truth: a turn is committed here before the reply is final.
"""

import asyncio
import json
import logging
from pathlib import Path
from typing import Optional

from .drivers import TIMEOUT_S, Driver, PostgresDriver, SqliteDriver, Tx
from .model import DeviceSummary, Message, Session
from .schema import VERSION, migrate

_LOGGER = logging.getLogger(__name__)
_ADVISORY_LOCK = 0x6E657875  # "nexu": one migrating server at a time

_SESSION_COLUMNS = "id, device_id, mode, context, created, last_active, conversation_id"
_LATEST_SESSION = f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE device_id = ? ORDER BY last_active DESC LIMIT 1"
_RECENT_MESSAGES = ("SELECT role, text, created, latencies, partial FROM messages "
                    "WHERE session_id = ? ORDER BY id DESC LIMIT ?")
_UPSERT_SESSION = (f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT (id) DO UPDATE SET mode = excluded.mode, context = excluded.context, "
                   "last_active = excluded.last_active, conversation_id = excluded.conversation_id")
_INSERT_MESSAGE = ("INSERT INTO messages (session_id, role, text, created, latencies, partial) "
                   "VALUES (?, ?, ?, ?, ?, ?)")
_GET_CONTEXT = "SELECT text FROM device_contexts WHERE device_id = ?"
_SET_CONTEXT = ("INSERT INTO device_contexts (device_id, text, updated) VALUES (?, ?, ?) "
                "ON CONFLICT (device_id) DO UPDATE SET text = excluded.text, updated = excluded.updated")
_DELETE_CONTEXT = "DELETE FROM device_contexts WHERE device_id = ?"
_DEVICES = ("SELECT s.device_id, COUNT(DISTINCT s.id), COUNT(m.id), MAX(s.last_active) FROM sessions s "
            "LEFT JOIN messages m ON m.session_id = s.id GROUP BY s.device_id "
            "ORDER BY MAX(s.last_active) DESC LIMIT ?")
_DEVICE_SESSIONS = f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE device_id = ? ORDER BY last_active DESC LIMIT ?"
_PURGED_DEVICES = "SELECT DISTINCT device_id FROM sessions WHERE last_active < ? LIMIT ?"
_PURGE_MESSAGES = "DELETE FROM messages WHERE session_id IN (SELECT id FROM sessions WHERE last_active < ?)"
_PURGE_SESSIONS = "DELETE FROM sessions WHERE last_active < ?"
_TRIM_MESSAGES = ("DELETE FROM messages WHERE id IN (SELECT id FROM ("
                  "SELECT m.id, ROW_NUMBER() OVER (PARTITION BY s.device_id ORDER BY m.id DESC) AS newer "
                  "FROM messages m JOIN sessions s ON s.id = m.session_id) ranked WHERE newer > ?)")
_EMPTY_SESSIONS = "DELETE FROM sessions WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.session_id = sessions.id)"


def open_store(url: str, data_dir: Path, synchronous: str = "normal") -> "HistoryStore":
    """The store a URL names: `sqlite:///ABSOLUTE/PATH`, `sqlite://RELATIVE/TO/DATA_DIR`, `postgresql://…`."""
    if url.startswith("sqlite://"):
        rest = url[len("sqlite://"):]
        if not rest.strip("/"):
            raise ValueError(f"no file name in history URL {url!r}")
        path = Path(rest).expanduser() if rest.startswith(("/", "~")) else data_dir / rest
        return HistoryStore(SqliteDriver(path, synchronous))
    if url.startswith(("postgresql://", "postgres://")):
        return HistoryStore(PostgresDriver(url))
    raise ValueError(f"history URL must start with sqlite:// or postgresql://, got {url.split(':', 1)[0]!r}")


def _message(row: tuple) -> Message:
    role, text, created, latencies, partial = row
    return Message.from_json({"role": role, "text": text, "created": created,
                              "latencies": json.loads(latencies) if latencies else {}, "partial": partial})


def _session(row: tuple) -> Session:
    *columns, conversation_id = row
    return Session(*columns, is_new=False, conversation_id=conversation_id)


class HistoryStore:
    """Queries, written once for both SQL dialects."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.opened = False
        self._opening = asyncio.Lock()

    @property
    def where(self) -> str:
        """The file or server, for messages."""
        return self.driver.where

    async def open(self) -> None:
        """Connect and migrate the schema (once; later calls return at once)."""
        async with self._opening:
            if self.opened:
                return
            await asyncio.wait_for(self.driver.connect(), TIMEOUT_S * 2)
            dialect = self.driver.dialect

            async def upgrade(tx: Tx) -> int:
                if dialect == "postgresql":
                    await tx.execute(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK})")
                return await migrate(dialect, tx.fetch, tx.execute)

            try:
                if await self._version() != VERSION:  # up to date: no write needed (read-only files open)
                    if await self.driver.transaction(upgrade) == 0:
                        _LOGGER.info("created the history schema in %s", self.where)
            except BaseException:
                await self.driver.close()
                raise
            self.opened = True

    async def _version(self) -> Optional[int]:
        """The schema version, None when there is no schema yet."""
        try:
            rows = await self.driver.fetch("SELECT version FROM schema_version")
        except Exception:  # no such table: a new database
            return None
        return rows[0][0] if rows else None

    async def close(self) -> None:
        """Release connections."""
        self.opened = False
        await self.driver.close()

    async def _fetch(self, sql: str, *args) -> list[tuple]:
        await self.open()
        return await asyncio.wait_for(self.driver.fetch(sql, *args), TIMEOUT_S)

    async def latest_session(self, device: str) -> Optional[Session]:
        """The device's most recently active session, expired or not."""
        rows = await self._fetch(_LATEST_SESSION, device)
        return _session(rows[0]) if rows else None

    async def recent_messages(self, session_id: str, count: int) -> list[Message]:
        """The last `count` messages of a session, oldest first."""
        if count <= 0:
            return []
        rows = await self._fetch(_RECENT_MESSAGES, session_id, count)
        return [_message(row) for row in reversed(rows)]

    async def write_turn(self, session: Session, messages: list[Message]) -> None:
        """Store the session and its new messages in one transaction."""
        await self.open()
        dialect = self.driver.dialect

        async def write(tx: Tx) -> None:
            await tx.execute(_UPSERT_SESSION, session.id, session.device_id, session.mode, session.context,
                             session.created, session.last_active, session.conversation_id)
            for message in messages:
                await tx.execute(_INSERT_MESSAGE, session.id, message.role, message.text, message.created,
                                 json.dumps(message.latencies),
                                 message.partial if dialect == "postgresql" else int(message.partial))

        await asyncio.wait_for(self.driver.transaction(write), TIMEOUT_S)

    async def get_context(self, device: str) -> Optional[str]:
        """The context set for a device over Wyoming, if any."""
        rows = await self._fetch(_GET_CONTEXT, device)
        return rows[0][0] if rows else None

    async def set_context(self, device: str, text: Optional[str], now: float) -> None:
        """Set (or with None, remove) a device's context."""
        await self.open()

        async def write(tx: Tx) -> None:
            if text is None:
                await tx.execute(_DELETE_CONTEXT, device)
            else:
                await tx.execute(_SET_CONTEXT, device, text, now)

        await asyncio.wait_for(self.driver.transaction(write), TIMEOUT_S)

    async def devices(self, limit: int = 1000) -> list[DeviceSummary]:
        """Devices with stored sessions, most recently active first."""
        return [DeviceSummary(*row) for row in await self._fetch(_DEVICES, limit)]

    async def device_sessions(self, device: str, sessions: int, messages: int) -> list[Session]:
        """A device's latest sessions (newest first), each with its last `messages` messages."""
        found = [_session(row) for row in await self._fetch(_DEVICE_SESSIONS, device, sessions)]
        for session in found:
            session.history = await self.recent_messages(session.id, messages)
        return found

    async def purge(self, before: float, device_limit: int = 10_000) -> tuple[int, int, list[str]]:
        """Delete sessions idle since before `before` with their messages.

        Returns (sessions, messages, device ids); the ids stop at `device_limit`.
        """
        await self.open()

        async def delete(tx: Tx) -> tuple[int, int, list[str]]:
            devices = [row[0] for row in await tx.fetch(_PURGED_DEVICES, before, device_limit)]
            messages = await tx.execute(_PURGE_MESSAGES, before)
            sessions = await tx.execute(_PURGE_SESSIONS, before)
            return sessions, messages, devices

        return await self.driver.transaction(delete)

    async def trim(self, max_messages: int) -> tuple[int, int]:
        """Keep each device's newest `max_messages` messages; returns (sessions, messages) deleted."""
        await self.open()

        async def delete(tx: Tx) -> tuple[int, int]:
            messages = await tx.execute(_TRIM_MESSAGES, max_messages)
            sessions = await tx.execute(_EMPTY_SESSIONS) if messages else 0
            return sessions, messages

        return await self.driver.transaction(delete)
