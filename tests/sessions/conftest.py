"""Real PostgreSQL and Redis servers for the sessions tests, started once per test run."""

import itertools
from pathlib import Path
from typing import AsyncIterator, Callable, Iterator

import pytest

from nexus_wyoming.config import SessionSettings
from nexus_wyoming.sessions import SessionManager
from tests.support.services import Postgres, Redis

_DATABASES = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One throwaway cluster; each test gets its own database in it."""
    server = Postgres().init().start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    """A shared redis-server (tests that stop Redis start their own)."""
    server = Redis().start()
    yield server
    server.remove()


@pytest.fixture
def own_redis() -> Iterator[Redis]:
    """A redis-server this test may kill, pause and restart."""
    server = Redis().start()
    yield server
    server.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request, tmp_path: Path) -> str:
    """A fresh, empty history store of each kind."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'history.db'}"
    return request.getfixturevalue("postgres").create_database(f"test_{next(_DATABASES)}")


@pytest.fixture
def redis_prefix_free(redis_server: Redis) -> Redis:
    """The shared Redis, emptied first so tests do not see each other's keys."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    client.close()
    return redis_server


@pytest.fixture
async def make_manager(tmp_path: Path, history_url: str) -> AsyncIterator[Callable]:
    """Started managers on this test's store; closed at the end."""
    managers: list[SessionManager] = []

    async def make(clock=None, **settings) -> SessionManager:
        config = SessionSettings(**{"history_url": history_url, **settings})
        manager = SessionManager(config, tmp_path, **({"clock": clock} if clock else {}))
        await manager.start()
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        await manager.close()


class Clock:
    """Wall-clock time the test moves forward."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
