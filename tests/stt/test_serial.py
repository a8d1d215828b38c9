"""One decode at a time, a bounded line, and cancellation that never overlaps decodes."""

import asyncio
import threading
import time

import pytest

from nexus_wyoming.stt.engine import SttBusyError
from nexus_wyoming.stt.serial import SerialRunner


def sleeper(seconds: float, log: list, name: str):
    def job(gave_up):
        log.append(("start", name))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not gave_up():
            time.sleep(0.005)
        log.append(("end", name, gave_up()))
        return name
    return job


async def test_jobs_run_one_at_a_time_in_order():
    runner, log = SerialRunner(5, "t"), []
    results = await asyncio.gather(*(runner.run(sleeper(0.02, log, str(i))) for i in range(4)))
    assert results == ["0", "1", "2", "3"]
    assert [e[0] for e in log] == ["start", "end"] * 4
    runner.shutdown()


async def test_a_full_line_is_busy_at_once():
    runner, log = SerialRunner(1, "t"), []
    first = asyncio.create_task(runner.run(sleeper(0.2, log, "a")))
    await asyncio.sleep(0.02)
    second = asyncio.create_task(runner.run(sleeper(0.01, log, "b")))
    await asyncio.sleep(0.01)
    assert runner.waiting == 1
    with pytest.raises(SttBusyError):
        await runner.run(sleeper(0.01, log, "c"))
    assert await first == "a" and await second == "b"
    runner.shutdown()


async def test_a_cancelled_waiter_leaves_the_line():
    runner, log = SerialRunner(1, "t"), []
    first = asyncio.create_task(runner.run(sleeper(0.1, log, "a")))
    await asyncio.sleep(0.02)
    waiter = asyncio.create_task(runner.run(sleeper(0.01, log, "b")))
    await asyncio.sleep(0.01)
    waiter.cancel()
    await asyncio.sleep(0.01)
    assert runner.waiting == 0
    assert await runner.run(sleeper(0.01, log, "c")) == "c"
    assert await first == "a"
    assert ("start", "b") not in log
    runner.shutdown()


async def test_a_cancelled_decode_stops_early_and_the_next_waits_for_its_thread():
    runner, log = SerialRunner(2, "t"), []
    running = asyncio.create_task(runner.run(sleeper(5.0, log, "long")))
    await asyncio.sleep(0.05)
    running.cancel()
    started = time.monotonic()
    assert await runner.run(sleeper(0.01, log, "next")) == "next"
    assert time.monotonic() - started < 2.0  # the long job noticed and stopped
    assert log.index(("end", "long", True)) < log.index(("start", "next"))
    assert threading.active_count() < 50
    runner.shutdown()
