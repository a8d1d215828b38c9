"""Redis as the shared cache in front of the history store, against a real redis-server.

Outages are real: the server is killed and restarted, or paused (SIGSTOP) so that it comes
back with stale data.
"""

import asyncio
import logging
import os
import signal

import redis

from nexus_wyoming.sessions import cache_key
from nexus_wyoming.sessions.redis_cache import PREFIX

OUTAGE_LOGGER = "nexus_wyoming.sessions.outage"


def keys(server) -> list[str]:
    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        return sorted(client.keys(PREFIX + "*"))
    finally:
        client.close()


def outage_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == OUTAGE_LOGGER and r.levelno == logging.WARNING]


async def wait_until(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.05)


async def test_turns_are_cached_with_the_session_ttl(make_manager, redis_prefix_free):
    manager = await make_manager(redis_url=redis_prefix_free.url, session_idle_s=120.0)
    session = await manager.begin_turn("🍳 kitchen")
    await manager.record_turn(session, "hi", "hello")
    cached = keys(redis_prefix_free)
    assert cached == [f"{PREFIX}context:🍳 kitchen", f"{PREFIX}history:🍳 kitchen", f"{PREFIX}session:🍳 kitchen"]
    client = redis.Redis.from_url(redis_prefix_free.url)
    try:
        assert 110_000 < client.pttl(f"{PREFIX}history:🍳 kitchen") <= 120_000
    finally:
        client.close()


async def test_reads_hit_redis_first_so_servers_share_sessions(make_manager, redis_prefix_free, tmp_path):
    """A second server with an empty store of its own still sees the conversation, via Redis."""
    from nexus_wyoming.config import SessionSettings
    from nexus_wyoming.sessions import SessionManager

    first = await make_manager(redis_url=redis_prefix_free.url)
    session = await first.begin_turn("kitchen", "planning")
    await first.record_turn(session, "my name is Anna", "nice to meet you, Anna")
    settings = SessionSettings(history_url=f"sqlite://{tmp_path / 'other.db'}", redis_url=redis_prefix_free.url)
    async with SessionManager(settings, tmp_path) as second:
        shared = await second.begin_turn("kitchen")
        assert shared.id == session.id and shared.mode == "planning"
        assert [m.text for m in shared.history] == ["my name is Anna", "nice to meet you, Anna"]
        assert await second.store.latest_session("kitchen") is None  # not from its own store


async def test_a_miss_loads_from_the_store_and_fills_the_cache(make_manager, redis_prefix_free):
    plain = await make_manager()
    session = await plain.begin_turn("kitchen")
    await plain.record_turn(session, "q", "a")
    cached = await make_manager(redis_url=redis_prefix_free.url)
    assert keys(redis_prefix_free) == []
    assert [m.text for m in (await cached.begin_turn("kitchen")).history] == ["q", "a"]
    assert f"{PREFIX}history:kitchen" in keys(redis_prefix_free)


async def test_malformed_cache_entries_are_ignored(make_manager, redis_prefix_free):
    manager = await make_manager(redis_url=redis_prefix_free.url)
    session = await manager.begin_turn("kitchen")
    await manager.record_turn(session, "q", "a")
    client = redis.Redis.from_url(redis_prefix_free.url)
    try:
        for junk in (b"not json", b"[]", b'{"id": 5}', b'{"id": "x", "created": "soon", "last_active": 1}'):
            client.set(f"{PREFIX}session:kitchen", junk)
            assert [m.text for m in (await manager.begin_turn("kitchen")).history] == ["q", "a"]
        client.rpush(f"{PREFIX}history:kitchen", b"\xff garbage")
        assert [m.text for m in (await manager.begin_turn("kitchen")).history] == ["q", "a"]
    finally:
        client.close()


async def test_killed_redis_one_warning_everything_answers_and_caching_resumes(
        make_manager, own_redis, caplog):
    caplog.set_level(logging.INFO)
    manager = await make_manager(redis_url=own_redis.url, retry_max_s=0.5)
    session = await manager.begin_turn("kitchen")
    await manager.record_turn(session, "before", "outage")
    own_redis.kill()
    for i in range(20):
        session = await manager.begin_turn("kitchen")
        assert await manager.record_turn(session, f"during {i}", "ok")
        await manager.store_response(cache_key(None, f"q{i}", None), "answer")
        await manager.set_context("kitchen", f"context {i}")
        await asyncio.sleep(0.02)
    assert len(outage_warnings(caplog)) == 1
    history = await manager.history("kitchen", turns=30)
    assert [m.text for m in history][:2] == ["before", "outage"] and len(history) == 42
    own_redis.start()  # empty: no persistence

    async def cached_again() -> bool:
        session = await manager.begin_turn("kitchen")
        await manager.record_turn(session, "after", "outage")
        return f"{PREFIX}history:kitchen" in keys(own_redis)

    await wait_until(cached_again)
    assert len(outage_warnings(caplog)) == 1
    assert any("is back" in r.getMessage() for r in caplog.records if r.name == OUTAGE_LOGGER)
    assert [m.text for m in (await manager.begin_turn("kitchen")).history][-2:] == ["after", "outage"]


async def test_redis_down_at_start_is_not_fatal(make_manager, own_redis, caplog):
    own_redis.kill()
    manager = await make_manager(redis_url=own_redis.url, retry_max_s=0.5)
    session = await manager.begin_turn("kitchen")
    assert await manager.record_turn(session, "q", "a")
    assert [m.text for m in await manager.history("kitchen")] == ["q", "a"]
    assert len(outage_warnings(caplog)) == 1


async def test_a_paused_redis_comes_back_without_serving_stale_history(make_manager, own_redis, caplog):
    """Redis keeps its data while paused; what changed meanwhile must not be read from it."""
    manager = await make_manager(redis_url=own_redis.url, retry_max_s=0.3)
    session = await manager.begin_turn("kitchen")
    await manager.record_turn(session, "one", "1")
    await manager.set_context("kitchen", "old context")
    os.kill(own_redis.proc.pid, signal.SIGSTOP)
    try:
        session = await manager.begin_turn("kitchen")  # times out: outage
        await manager.record_turn(session, "two", "2")
        await manager.set_context("kitchen", "new context")
    finally:
        os.kill(own_redis.proc.pid, signal.SIGCONT)
    assert len(outage_warnings(caplog)) == 1

    async def redis_back() -> bool:
        await manager.begin_turn("garage")
        return manager.redis.available

    await wait_until(redis_back)
    session = await manager.begin_turn("kitchen")
    assert [m.text for m in session.history] == ["one", "1", "two", "2"]
    assert session.context == "new context"


async def test_response_cache_is_shared_through_redis_and_expires(make_manager, redis_prefix_free):
    first = await make_manager(redis_url=redis_prefix_free.url, response_cache_ttl_s=1.0)
    second = await make_manager(redis_url=redis_prefix_free.url, response_cache_ttl_s=1.0)
    key = cache_key("faster", "How tall is Mount Everest?", "In the kitchen.")
    await first.store_response(key, "8,849 metres.")
    assert await second.cached(key) == "8,849 metres."
    await asyncio.sleep(1.2)
    assert await first.cached(key) is None and await second.cached(key) is None
