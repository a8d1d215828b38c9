"""Nothing lost: a turn is committed before the reply goes out, whatever happens next.

Real processes: the stand-in intent server (`turn_process.py`) is killed with SIGKILL
the moment it has sent its reply; the history store is stopped or made read-only.
"""

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nexus_wyoming.config import SessionSettings
from nexus_wyoming.sessions import LOST_WRITES, SessionManager, UpdateContext, handle_update_context
from tests.support.processes import REPO
from tests.support.services import Postgres


def turn_process(history_url: str, data_dir: Path, *args: str, redis_url=None,
                 prefix: tuple[str, ...] = ()) -> subprocess.Popen:
    extra = ["--redis-url", redis_url] if redis_url else []
    return subprocess.Popen(
        [*prefix, sys.executable, "-m", "tests.sessions.turn_process", "--history-url", history_url,
         "--data-dir", str(data_dir), *extra, *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def history_in_new_process(history_url: str, data_dir: Path, device: str) -> list:
    proc = turn_process(history_url, data_dir, "history", device)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return json.loads(out)


@pytest.mark.parametrize("with_redis", [False, True])
async def test_a_turn_survives_kill_9_right_after_the_reply(history_url, tmp_path, redis_prefix_free, with_redis):
    redis_url = redis_prefix_free.url if with_redis else None
    for n in range(3):
        proc = turn_process(history_url, tmp_path, "--hang", "turn", "kitchen 🍳", f"question {n}", f"answer {n}",
                            redis_url=redis_url)
        line = proc.stdout.readline()
        proc.send_signal(signal.SIGKILL)  # the instant the reply is out
        proc.wait(10)
        assert line.startswith("REPLY "), proc.stderr.read()
        assert json.loads(line[6:])["stored"] is True
    expected = [[role, f"{kind} {n}"] for n in range(3) for role, kind in (("user", "question"),
                                                                            ("assistant", "answer"))]
    assert history_in_new_process(history_url, tmp_path, "kitchen 🍳") == expected


def _respecting_file_modes() -> tuple[str, ...]:
    """Root writes any file: drop the capabilities that let it, so read-only means read-only."""
    if os.geteuid() != 0:
        return ()
    return ("setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner")


@pytest.mark.parametrize("read_only, history_seen", [("file", 1), ("file and directory", 0)])
async def test_read_only_sqlite_the_reply_is_still_delivered(read_only, history_seen, tmp_path):
    """A read-only file in a writable directory is still read; in a read-only one WAL cannot be."""
    data_dir = tmp_path / "read-only"
    data_dir.mkdir()
    try:
        path = data_dir / "history.db"
        settings = SessionSettings(history_url=f"sqlite://{path}")
        async with SessionManager(settings, data_dir) as manager:
            session = await manager.begin_turn("kitchen")
            await manager.record_turn(session, "stored", "before")
        path.chmod(0o444)
        if read_only == "file and directory":
            data_dir.chmod(0o555)
        proc = turn_process(f"sqlite://{path}", data_dir, "turn", "kitchen", "lost", "but answered",
                            prefix=_respecting_file_modes())
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        reply = json.loads(out.split("REPLY ", 1)[1])
        assert reply == {"text": "but answered", "stored": False, "lost": 1.0, "history": history_seen}
        assert "turn of device 'kitchen' not stored" in err
        assert "Traceback" not in err
    finally:
        data_dir.chmod(0o755)
        path.chmod(0o644)
    async with SessionManager(settings, data_dir) as manager:
        assert [m.text for m in await manager.history("kitchen")] == ["stored", "before"]


@pytest.fixture
def own_postgres():
    server = Postgres().init().start()
    yield server
    server.remove()


async def test_postgres_down_replies_still_go_out_and_writes_resume(own_postgres, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    settings = SessionSettings(history_url=own_postgres.create_database("history"))
    async with SessionManager(settings, tmp_path) as manager:
        session = await manager.begin_turn("kitchen")
        assert await manager.record_turn(session, "one", "1")
        own_postgres.stop()
        lost_before = LOST_WRITES.value()
        for n in range(3):
            session = await manager.begin_turn("kitchen")  # no history: the store is down
            assert session.history == []
            assert await manager.record_turn(session, f"lost {n}", "answered anyway") is False
        assert LOST_WRITES.value() == lost_before + 3
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert sum("turn of device 'kitchen' not stored" in e for e in errors) == 3
        reply = await handle_update_context(manager, UpdateContext("kitchen", "In the kitchen.").event())
        assert reply.type == "error" and reply.data["code"] == "store-unavailable"
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert sum("history store" in w for w in warnings) == 1
        own_postgres.start()
        session = await manager.begin_turn("kitchen")
        assert [m.text for m in session.history] == ["one", "1"]
        assert await manager.record_turn(session, "two", "2")
        assert [m.text for m in await manager.history("kitchen")] == ["one", "1", "two", "2"]


async def test_postgres_down_at_start_the_server_still_starts(own_postgres, tmp_path):
    url = own_postgres.create_database("history")
    own_postgres.stop()
    async with SessionManager(SessionSettings(history_url=url), tmp_path) as manager:
        session = await manager.begin_turn("kitchen")
        assert await manager.record_turn(session, "q", "a") is False
        own_postgres.start()
        session = await manager.begin_turn("kitchen")
        assert await manager.record_turn(session, "q", "a") is True
        assert [m.text for m in await manager.history("kitchen")] == ["q", "a"]
