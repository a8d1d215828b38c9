"""The history schema, versioned: each migration brings the database one version up.

Tables (both SQL dialects):
- sessions(id, device_id, mode, context, created, last_active, conversation_id): one
  conversation; `id` is a UUID hex made by the server, times are Unix seconds, `device_id`
  is the session key (a device id, or `conversation:<id>` for a conversation without a
  device), `conversation_id` the conversation the client continues (version 2).
- messages(id, session_id → sessions.id, role, text, created, latencies, partial):
  `role` is user|assistant, `latencies` is JSON {stage: ms}, `partial` marks a reply
  cut short by a provider failure.
- device_contexts(device_id, text, updated): the context set for a device over Wyoming.
- schema_version(version): one row.
"""

from typing import Awaitable, Callable

_TYPES = {
    "sqlite": {"real": "REAL", "serial": "INTEGER PRIMARY KEY", "json": "TEXT", "bool": "INTEGER"},
    "postgresql": {"real": "DOUBLE PRECISION", "serial": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                   "json": "JSONB", "bool": "BOOLEAN"},
}

#: MIGRATIONS[n] brings version n to n + 1.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            device_id TEXT NOT NULL,
            mode TEXT,
            context TEXT,
            created {real} NOT NULL,
            last_active {real} NOT NULL)""",
        "CREATE INDEX sessions_by_device ON sessions (device_id, last_active)",
        "CREATE INDEX sessions_by_last_active ON sessions (last_active)",
        """CREATE TABLE messages (
            id {serial},
            session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            text TEXT NOT NULL,
            created {real} NOT NULL,
            latencies {json},
            partial {bool} NOT NULL)""",
        "CREATE INDEX messages_by_session ON messages (session_id, id)",
        """CREATE TABLE device_contexts (
            device_id TEXT PRIMARY KEY,
            text TEXT NOT NULL,
            updated {real} NOT NULL)""",
    ],
    [
        "ALTER TABLE sessions ADD COLUMN conversation_id TEXT",
    ],
]
VERSION = len(MIGRATIONS)


class SchemaError(RuntimeError):
    """The database was written by a newer version of this program."""


Fetch = Callable[..., Awaitable[list[tuple]]]
Execute = Callable[..., Awaitable[int]]


async def migrate(dialect: str, fetch: Fetch, execute: Execute) -> int:
    """Bring the schema to VERSION inside the caller's transaction; returns the old version."""
    await execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    rows = await fetch("SELECT version FROM schema_version")
    current = rows[0][0] if rows else 0
    if current > VERSION:
        raise SchemaError(f"the history database has schema version {current}; this program knows "
                          f"up to {VERSION}: upgrade nexus-wyoming or use another database")
    for step in MIGRATIONS[current:]:
        for statement in step:
            await execute(statement.format(**_TYPES[dialect]))
    if not rows:
        await execute("INSERT INTO schema_version (version) VALUES (?)", VERSION)
    elif current != VERSION:
        await execute("UPDATE schema_version SET version = ?", VERSION)
    return current

