"""Database drivers behind one small interface, so the history store is written once.

Queries use `?` placeholders; the PostgreSQL driver numbers them. A transaction is a
coroutine function given a `Tx`; it commits when the function returns.
"""

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Protocol, TypeVar

import aiosqlite

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")
TIMEOUT_S = 5.0
BUSY_TIMEOUT_MS = 2000


class Tx(Protocol):
    """Statements inside one transaction."""

    async def fetch(self, sql: str, *args: Any) -> list[tuple]: ...

    async def execute(self, sql: str, *args: Any) -> int: ...


class Driver(Protocol):
    """One database connection (or pool)."""

    dialect: str
    where: str

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def fetch(self, sql: str, *args: Any) -> list[tuple]: ...

    async def transaction(self, work: Callable[[Tx], Awaitable[T]]) -> T: ...


class SqliteDriver:
    """One aiosqlite connection in WAL mode; transactions take turns on it."""

    dialect = "sqlite"

    def __init__(self, path: Path, synchronous: str = "normal") -> None:
        self.path = path
        self.where = str(path)
        self.synchronous = synchronous
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        """Open the file (creating it and its directory) and set WAL mode."""
        await self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await db.execute("PRAGMA foreign_keys = ON")
            rows = await db.execute_fetchall("PRAGMA journal_mode = WAL")
            if list(rows)[0][0] != "wal":
                _LOGGER.warning("%s: could not switch to WAL mode", self.path)
            await db.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
        except BaseException:
            await db.close()
            raise
        self._db = db

    async def close(self) -> None:
        """Close the connection."""
        db, self._db = self._db, None
        if db is not None:
            await db.close()

    def _connection(self) -> aiosqlite.Connection:
        if self._db is None:
            raise ConnectionError(f"{self.path} is not open")
        return self._db

    async def fetch(self, sql: str, *args: Any) -> list[tuple]:
        """Rows of one query."""
        return [tuple(row) for row in await self._connection().execute_fetchall(sql, args)]

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement; returns the rows it changed."""
        cursor = await self._connection().execute(sql, args)
        count = cursor.rowcount
        await cursor.close()
        return count

    async def transaction(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """Run `work` inside BEGIN IMMEDIATE … COMMIT."""
        async with self._lock:
            db = self._connection()
            await db.execute("BEGIN IMMEDIATE")
            try:
                result = await work(self)
                await db.execute("COMMIT")
                return result
            except BaseException:
                with contextlib.suppress(Exception):
                    await db.execute("ROLLBACK")
                raise


class _PgTx:
    """Statements on one asyncpg connection."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def fetch(self, sql: str, *args: Any) -> list[tuple]:
        return [tuple(row) for row in await self.connection.fetch(numbered(sql), *args)]

    async def execute(self, sql: str, *args: Any) -> int:
        status = await self.connection.execute(numbered(sql), *args)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0


class PostgresDriver:
    """An asyncpg pool, created on first use so the server starts while PostgreSQL is down."""

    dialect = "postgresql"

    def __init__(self, dsn: str, pool_size: int = 4) -> None:
        import asyncpg  # imported here: SQLite users never load it

        self._asyncpg = asyncpg
        self.dsn = dsn
        self.where = _without_password(dsn)
        self.pool_size = pool_size
        self._pool: Any = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        """Create the pool (and its first connection)."""
        async with self._lock:
            if self._pool is None:
                self._pool = await self._asyncpg.create_pool(
                    self.dsn, min_size=1, max_size=self.pool_size, timeout=TIMEOUT_S,
                    command_timeout=TIMEOUT_S, statement_cache_size=64,
                )

    async def close(self) -> None:
        """Close every connection."""
        pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), TIMEOUT_S)

    async def fetch(self, sql: str, *args: Any) -> list[tuple]:
        """Rows of one query."""
        return await self._with_retry(lambda tx: tx.fetch(sql, *args), transaction=False)

    async def transaction(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """Run `work` in a transaction on a pooled connection."""
        return await self._with_retry(work, transaction=True)

    async def _with_retry(self, work: Callable[[Tx], Awaitable[T]], transaction: bool) -> T:
        """Once more on a fresh connection if the pooled one died before we committed."""
        if self._pool is None:
            await self.connect()
        stale = (self._asyncpg.ConnectionDoesNotExistError, self._asyncpg.InterfaceError)
        for attempt in (1, 2):
            async with self._pool.acquire(timeout=TIMEOUT_S) as connection:
                tx = connection.transaction() if transaction else None
                try:
                    if tx is not None:
                        await tx.start()
                    result = await work(_PgTx(connection))
                except stale:
                    if attempt == 2:
                        raise
                    continue
                except BaseException:
                    if tx is not None:
                        with contextlib.suppress(Exception):
                            await tx.rollback()
                    raise
                if tx is not None:
                    await tx.commit()
                return result
        raise AssertionError("unreachable")


_NUMBERED: dict[str, str] = {}


def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, …`."""
    converted = _NUMBERED.get(sql)
    if converted is None:
        parts = sql.split("?")
        converted = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))
        _NUMBERED[sql] = converted
    return converted


def _without_password(dsn: str) -> str:
    """The DSN for log lines."""
    head, at, tail = dsn.rpartition("@")
    if not at or "://" not in head:
        return dsn
    scheme, _, user = head.partition("://")
    return f"{scheme}://{user.split(':', 1)[0]}@{tail}"
