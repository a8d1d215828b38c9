"""The history store on real SQLite files and a real PostgreSQL: schema, migration, round trips."""

import sqlite3

import pytest

from nexus_wyoming.sessions import Message, SchemaError, Session
from nexus_wyoming.sessions.schema import VERSION
from nexus_wyoming.sessions.store import open_store


@pytest.fixture
async def store(history_url, tmp_path):
    opened = open_store(history_url, tmp_path)
    await opened.open()
    yield opened
    await opened.close()


def a_session(device: str, sid: str = "s1", last_active: float = 1000.0) -> Session:
    return Session(sid, device, "faster", None, last_active - 10, last_active)


def turn(user: str, reply: str, at: float = 1000.0) -> list[Message]:
    return [Message("user", user, at), Message("assistant", reply, at, {"llm_ms": 12.5, "tts_ms": 3.0}, False)]


async def test_schema_is_created_and_versioned(store):
    assert (await store.driver.fetch("SELECT version FROM schema_version")) == [(VERSION,)]


async def test_indexes_exist(store):
    if store.driver.dialect == "sqlite":
        rows = await store.driver.fetch("SELECT name FROM sqlite_master WHERE type = 'index'")
    else:
        rows = await store.driver.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
    names = {row[0] for row in rows}
    assert {"sessions_by_device", "sessions_by_last_active", "messages_by_session"} <= names


async def test_opening_again_keeps_the_data_and_the_version(history_url, tmp_path, store):
    await store.write_turn(a_session("kitchen"), turn("hi", "hello"))
    await store.close()
    again = open_store(history_url, tmp_path)
    await again.open()
    try:
        assert [m.text for m in await again.recent_messages("s1", 10)] == ["hi", "hello"]
        assert (await again.driver.fetch("SELECT COUNT(*) FROM schema_version")) == [(1,)]
    finally:
        await again.close()


async def test_a_database_from_a_newer_version_is_refused(history_url, tmp_path, store):
    await store.driver.transaction(lambda tx: tx.execute("UPDATE schema_version SET version = ?", VERSION + 1))
    await store.close()
    again = open_store(history_url, tmp_path)
    with pytest.raises(SchemaError, match="upgrade"):
        await again.open()


async def test_old_schema_is_migrated_on_open(tmp_path):
    path = tmp_path / "old.db"
    sqlite3.connect(path).close()  # an empty file: version 0
    store = open_store(f"sqlite://{path}", tmp_path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(VERSION,)]
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_a_version_1_store_keeps_its_sessions_and_gains_conversation_ids(history_url, tmp_path, monkeypatch):
    from nexus_wyoming.sessions import schema, store as store_module
    with monkeypatch.context() as old_version:  # the store as the release before conversation ids wrote it
        old_version.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
        old_version.setattr(schema, "VERSION", 1)
        old_version.setattr(store_module, "VERSION", 1)
        old = open_store(history_url, tmp_path)
        await old.open()
        await old.driver.transaction(lambda tx: tx.execute(
            "INSERT INTO sessions (id, device_id, mode, context, created, last_active) VALUES (?, ?, ?, ?, ?, ?)",
            "s1", "kitchen", "faster", None, 990.0, 1000.0))
        await old.close()
    migrated = open_store(history_url, tmp_path)
    await migrated.open()
    try:
        assert (await migrated.driver.fetch("SELECT version FROM schema_version")) == [(VERSION,)] and VERSION == 2
        legacy = await migrated.latest_session("kitchen")
        assert (legacy.id, legacy.mode, legacy.conversation_id) == ("s1", "faster", None)
        legacy.conversation_id, legacy.last_active = "01HA", 1001.0
        await migrated.write_turn(legacy, turn("hi", "hello", 1001.0))
        assert (await migrated.latest_session("kitchen")).conversation_id == "01HA"
    finally:
        await migrated.close()


async def test_turn_round_trip_with_latencies_and_partial_flag(store):
    session = a_session("kitchen")
    await store.write_turn(session, turn("what time is it", "noon"))
    partial = [Message("user", "tell me more", 1001.0), Message("assistant", "Well", 1001.0, {}, True)]
    session.last_active = 1001.0
    await store.write_turn(session, partial)
    latest = await store.latest_session("kitchen")
    assert (latest.id, latest.mode, latest.last_active) == ("s1", "faster", 1001.0)
    messages = await store.recent_messages("s1", 10)
    assert [(m.role, m.text, m.partial) for m in messages] == [
        ("user", "what time is it", False), ("assistant", "noon", False),
        ("user", "tell me more", False), ("assistant", "Well", True),
    ]
    assert messages[1].latencies == {"llm_ms": 12.5, "tts_ms": 3.0}
    assert [m.text for m in await store.recent_messages("s1", 2)] == ["tell me more", "Well"]


async def test_latest_session_is_the_most_recently_active(store):
    await store.write_turn(a_session("kitchen", "old", 1000.0), turn("a", "b"))
    await store.write_turn(a_session("kitchen", "new", 5000.0), turn("c", "d"))
    await store.write_turn(a_session("bedroom", "other", 9000.0), turn("e", "f"))
    assert (await store.latest_session("kitchen")).id == "new"
    assert await store.latest_session("garage") is None


HOSTILE = [
    "'; DROP TABLE messages; --",
    "\" OR 1=1 --",
    "Robert'); DELETE FROM sessions WHERE ('1'='1",
    "?", "$1", "%s", "\\", "🍳🔥👨‍👩‍👧 emoji",
    "line\nbreaks\r\nand\ttabs",
]


@pytest.mark.parametrize("text", HOSTILE)
async def test_hostile_text_and_device_ids_are_stored_verbatim(store, text):
    device = text[:128]
    await store.write_turn(a_session(device, "s-" + str(abs(hash(text)))), turn(text, text))
    session = await store.latest_session(device)
    assert session is not None and session.device_id == device
    assert [m.text for m in await store.recent_messages(session.id, 2)] == [text, text]
    assert [d.device_id for d in await store.devices()] == [device]


async def test_contexts_set_replace_and_remove(store):
    assert await store.get_context("kitchen") is None
    await store.set_context("kitchen", "In the kitchen.", 1.0)
    await store.set_context("kitchen", "Now the pantry.", 2.0)
    assert await store.get_context("kitchen") == "Now the pantry."
    await store.set_context("kitchen", None, 3.0)
    assert await store.get_context("kitchen") is None


async def test_devices_and_sessions_for_the_cli(store):
    await store.write_turn(a_session("kitchen", "k1", 1000.0), turn("a", "b"))
    await store.write_turn(a_session("kitchen", "k2", 2000.0), turn("c", "d") + turn("e", "f"))
    await store.write_turn(a_session("bedroom", "b1", 3000.0), turn("g", "h"))
    devices = await store.devices()
    assert [(d.device_id, d.sessions, d.messages, d.last_active) for d in devices] == [
        ("bedroom", 1, 2, 3000.0), ("kitchen", 2, 6, 2000.0)]
    shown = await store.device_sessions("kitchen", sessions=5, messages=3)
    assert [s.id for s in shown] == ["k2", "k1"]
    assert [m.text for m in shown[0].history] == ["d", "e", "f"]


async def test_purge_deletes_old_sessions_with_their_messages_only(store):
    await store.write_turn(a_session("kitchen", "old", 1000.0), turn("a", "b"))
    await store.write_turn(a_session("kitchen", "new", 5000.0), turn("c", "d"))
    assert await store.purge(before=2000.0) == (1, 2, ["kitchen"])
    assert await store.recent_messages("old", 10) == []
    assert [m.text for m in await store.recent_messages("new", 10)] == ["c", "d"]
    assert await store.purge(before=2000.0) == (0, 0, [])


def test_unknown_url_schemes_are_refused(tmp_path):
    for url in ("mysql://x/y", "sqlite://", "redis://localhost", ""):
        with pytest.raises(ValueError):
            open_store(url, tmp_path)


async def test_a_relative_sqlite_path_lives_in_the_data_dir(tmp_path):
    store = open_store("sqlite://sub/h.db", tmp_path)
    await store.open()
    await store.close()
    assert (tmp_path / "sub" / "h.db").is_file()
