"""`nexus-wyoming sessions list|show|purge` as a user runs it, on a real store."""

import subprocess
import sys
import time

import pytest

from nexus_wyoming.config import SessionSettings
from nexus_wyoming.sessions import SessionManager
from nexus_wyoming.sessions.admin import parse_duration, shown, table
from tests.support.processes import REPO


@pytest.mark.parametrize("text, seconds", [
    ("30d", 30 * 86400), ("12h", 12 * 3600), ("90m", 90 * 60), ("45s", 45), ("2w", 14 * 86400),
    ("1d12h", 36 * 3600), ("1.5h", 5400), ("0s", 0), ("30D", 30 * 86400),
])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "30", "d", "30x", "-1d", "1d 2", "thirty days", "1e3s", "30d;"])
def test_bad_durations(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_terminal_output_escapes_control_characters():
    assert shown("red\x1b[31m\nline") == "red\\x1b[31m\\nline"
    assert shown("x" * 10, limit=5) == "xxxx…"


def test_table_pads_columns():
    assert table(["A", "LONGER"], [["wide cell", "1"]]).splitlines() == [
        "A          LONGER", "---------  ------", "wide cell  1"]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nexus_wyoming", "sessions", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


@pytest.fixture
async def seeded(history_url, tmp_path):
    """Two devices; the kitchen has an old session and a current one."""
    now = time.time()
    clock = [now - 40 * 86400]
    manager = SessionManager(SessionSettings(history_url=history_url), tmp_path, clock=lambda: clock[0])
    async with manager:
        for device, when, text in [("kitchen", now - 40 * 86400, "old question"),
                                   ("kitchen", now - 60, "new question \x1b[31m"),
                                   ("🛏 bedroom", now - 3600, "good night")]:
            clock[0] = when
            session = await manager.begin_turn(device, "faster", "01HA" if text == "new question \x1b[31m" else None)
            await manager.record_turn(session, text, "reply")
        clock[0] = now - 30
        typed = await manager.begin_turn(None, "faster", "01JTYPED")
        await manager.record_turn(typed, "typed question", "reply")
    return ["--history-url", history_url, "--data-dir", str(tmp_path)]


async def test_list_shows_a_table_of_devices(seeded):
    result = cli("list", *seeded)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["DEVICE", "SESSIONS", "MESSAGES", "LAST", "ACTIVE"]
    assert lines[2].split()[:3] == ["conversation:01JTYPED", "1", "2"] and "(just now)" in lines[2]
    assert lines[3].split()[:3] == ["kitchen", "2", "4"] and "(1m ago)" in lines[3]
    assert lines[4].split()[:4] == ["🛏", "bedroom", "1", "2"] and "(1h ago)" in lines[4]


async def test_show_prints_sessions_newest_first_with_messages(seeded):
    result = cli("show", "kitchen", *seeded)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index("new question") < out.index("old question")
    assert "\\x1b[31m" in out and "\x1b" not in out
    assert out.count("session ") == 2 and "mode faster" in out
    assert out.index("conversation 01HA") < out.index("new question") < out.index("conversation -")


async def test_show_a_conversation_without_a_device(seeded):
    result = cli("show", "conversation:01JTYPED", *seeded)
    assert result.returncode == 0, result.stderr
    assert "conversation 01JTYPED" in result.stdout and "typed question" in result.stdout


async def test_show_an_unknown_device_exits_1(seeded):
    result = cli("show", "garage", *seeded)
    assert result.returncode == 1 and "no sessions for device garage" in result.stderr


async def test_purge_older_than_30_days(seeded):
    result = cli("purge", "--older-than", "30d", *seeded)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "purged 1 session(s) and 2 message(s)"
    assert "old question" not in cli("show", "kitchen", *seeded).stdout


def test_purge_with_a_bad_duration_is_a_usage_error(tmp_path):
    result = cli("purge", "--older-than", "soon", "--data-dir", str(tmp_path))
    assert result.returncode == 2 and "not a duration" in result.stderr


def test_an_unreachable_store_is_reported_without_a_traceback(tmp_path):
    from tests.support.services import free_port

    url = f"postgresql://nexus@127.0.0.1:{free_port()}/nothing"
    result = cli("list", "--history-url", url, "--data-dir", str(tmp_path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("nexus-wyoming: ")
