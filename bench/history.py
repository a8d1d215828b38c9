"""Benchmark conversation history: read the last 10 turns and write one turn, per store.

100,000 messages over 1,000 devices (5 sessions of 10 turns each, the newest active),
then timed `SessionManager.history(device, 10)` reads and `record_turn` writes, exactly
as the intent server calls them, on SQLite, PostgreSQL (throwaway cluster, fsync on)
and Redis (in front of SQLite; reads hit Redis). Targets: read p99 <= 1 ms (SQLite),
<= 2 ms (Redis); the seed's history read was < 10 ms.

Run from the repo root:  .venv/bin/python bench/history.py [--reads 2000] [--writes 1000] [--json [PATH]]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nexus_wyoming.config import SessionSettings  # noqa: E402
from nexus_wyoming.sessions import SessionManager  # noqa: E402
from tests.support.services import Postgres, Redis  # noqa: E402

SESSIONS_PER_DEVICE = 5
TURNS_PER_READ = 10
SEED_MS = 10.0
TARGETS = {"SQLite": 1.0, "Redis": 2.0}


@dataclass
class Row:
    """One store's figures, in milliseconds."""

    store: str
    read_p50: float
    read_p99: float
    write_p50: float
    write_p99: float
    target_read_p99: Optional[float]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def seed_rows(devices: int, messages: int, now: float) -> tuple[list[tuple], list[tuple]]:
    """Sessions and messages: the newest session of each device is active."""
    per_device = messages // devices
    per_session = per_device // SESSIONS_PER_DEVICE
    sessions, rows = [], []
    for d in range(devices):
        for s in range(SESSIONS_PER_DEVICE):
            sid = uuid.uuid4().hex
            last = now - (SESSIONS_PER_DEVICE - 1 - s) * 7200 - random.random() * 60
            sessions.append((sid, f"device-{d}", "faster", None, last - 600, last))
            for m in range(per_session):
                role = "user" if m % 2 == 0 else "assistant"
                text = f"{role} message {m} of session {s}: " + "lorem ipsum dolor sit amet " * 3
                rows.append((sid, role, text, last - 600 + m, '{"llm_ms": 200.0}' if role == "assistant" else "{}",
                             False))
    return sessions, rows


def seed_sqlite(path: Path, sessions: list[tuple], messages: list[tuple]) -> None:
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)", sessions)
        db.executemany("INSERT INTO messages (session_id, role, text, created, latencies, partial) "
                       "VALUES (?, ?, ?, ?, ?, ?)", [(*m[:5], int(m[5])) for m in messages])
        db.execute("ANALYZE")


async def seed_postgres(url: str, sessions: list[tuple], messages: list[tuple]) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.copy_records_to_table("sessions", records=sessions)
        await connection.copy_records_to_table(
            "messages", records=messages,
            columns=["session_id", "role", "text", "created", "latencies", "partial"])
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def measure(label: str, settings: SessionSettings, data_dir: Path, devices: int, reads: int,
                  writes: int) -> Row:
    async with SessionManager(settings, data_dir) as manager:
        names = [f"device-{d}" for d in range(devices)]
        for name in names:  # steady state, as in a running server: pages cached, sessions in Redis
            await manager.history(name, TURNS_PER_READ)
        read_ms = []
        for _ in range(reads):
            name = random.choice(names)
            started = time.perf_counter()
            history = await manager.history(name, TURNS_PER_READ)
            read_ms.append((time.perf_counter() - started) * 1000)
            assert len(history) == 2 * TURNS_PER_READ, (label, len(history))
        write_ms = []
        for i in range(writes):
            session = await manager.begin_turn(random.choice(names))
            started = time.perf_counter()
            stored = await manager.record_turn(session, f"benchmark question {i}", "benchmark answer",
                                               {"llm_ms": 180.0})
            write_ms.append((time.perf_counter() - started) * 1000)
            assert stored, label
    return Row(label, percentile(read_ms, 50), percentile(read_ms, 99), percentile(write_ms, 50),
               percentile(write_ms, 99), TARGETS.get(label.split(" ")[0]))


async def prepare_schema(settings: SessionSettings, data_dir: Path) -> None:
    async with SessionManager(settings, data_dir):
        pass


async def run(args: argparse.Namespace) -> tuple[list[Row], dict]:
    random.seed(1)
    now = time.time()
    sessions, messages = seed_rows(args.devices, args.messages, now)
    rows: list[Row] = []
    work = Path(tempfile.mkdtemp(prefix="nexus-bench-history-"))
    postgres = Postgres(fsync=True).init().start()
    redis = Redis().start()
    try:
        db = work / "history.db"
        sqlite_settings = SessionSettings(history_url=f"sqlite://{db}")
        await prepare_schema(sqlite_settings, work)
        seed_sqlite(db, sessions, messages)
        pg_settings = SessionSettings(history_url=postgres.create_database("bench"))
        await prepare_schema(pg_settings, work)
        await seed_postgres(pg_settings.history_url, sessions, messages)
        print(f"[bench] seeded {len(messages)} messages over {args.devices} devices", file=sys.stderr)
        plan = [
            ("SQLite", sqlite_settings),
            ("SQLite (synchronous=full)", SessionSettings(history_url=sqlite_settings.history_url,
                                                          sqlite_synchronous="full")),
            ("PostgreSQL", pg_settings),
            ("Redis (over SQLite)", SessionSettings(history_url=sqlite_settings.history_url, redis_url=redis.url)),
        ]
        for label, settings in plan:
            rows.append(await measure(label, settings, work, args.devices, args.reads, args.writes))
            print(f"[bench] {label} done", file=sys.stderr)
        environment = {
            "machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "postgresql": subprocess.run([str(postgres.bin / "postgres"), "--version"], capture_output=True,
                                         text=True).stdout.strip(),
            "redis": subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2],
            "messages": len(messages), "devices": args.devices, "reads": args.reads, "writes": args.writes,
        }
    finally:
        redis.remove()
        postgres.remove()
    return rows, environment


def render(rows: list[Row], environment: dict) -> str:
    lines = [
        f"History: {environment['messages']:,} messages over {environment['devices']:,} devices; "
        f"{environment['reads']} reads of the last {TURNS_PER_READ} turns, {environment['writes']} turn writes "
        f"({environment['cpus']} CPUs, SQLite {environment['sqlite']}, {environment['postgresql']}, "
        f"Redis {environment['redis']}).",
        "",
        "| store | read p50 ms | read p99 ms | target read p99 | write p50 ms | write p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        target = f"<= {row.target_read_p99:g} ms" if row.target_read_p99 is not None else "-"
        lines.append(f"| {row.store} | {row.read_p50:.3f} | {row.read_p99:.3f} | {target} | "
                     f"{row.write_p50:.3f} | {row.write_p99:.3f} |")
    lines += ["", f"Seed (reference implementation) history read: < {SEED_MS:g} ms."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=1_000)
    parser.add_argument("--reads", type=int, default=2_000)
    parser.add_argument("--writes", type=int, default=1_000)
    parser.add_argument("--json", nargs="?", const="-", metavar="PATH", help="also write JSON (to stdout: -)")
    args = parser.parse_args()
    if args.messages < args.devices * SESSIONS_PER_DEVICE * 2 * TURNS_PER_READ:
        parser.error("need at least devices x 100 messages (5 sessions of 10 turns per device)")
    rows, environment = asyncio.run(run(args))
    print(render(rows, environment))
    if args.json:
        document = json.dumps({"environment": environment, "results": [asdict(r) for r in rows]}, indent=2)
        if args.json == "-":
            print(document)
        else:
            Path(args.json).write_text(document + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
