"""History retention on both stores: age, turns per device, and the background pass."""

import asyncio

from nexus_wyoming.sessions.retention import DAY_S
from tests.sessions.conftest import Clock


async def add_turns(manager, device: str, count: int, clock: Clock) -> None:
    for i in range(count):
        session = await manager.begin_turn(device)
        await manager.record_turn(session, f"question {i}", f"answer {i}")
        clock.advance(60)


async def test_sessions_idle_past_retention_days_are_deleted(make_manager):
    clock = Clock()
    manager = await make_manager(clock=clock, retention_days=30, session_idle_s=3600)
    await add_turns(manager, "old", 2, clock)
    clock.advance(31 * DAY_S)
    await add_turns(manager, "new", 1, clock)
    assert await manager.retention.apply() == (1, 4)
    assert [d.device_id for d in await manager.devices()] == ["new"]


async def test_each_device_keeps_only_its_newest_turns_across_sessions(make_manager):
    clock = Clock()
    manager = await make_manager(clock=clock, max_turns_per_device=3, session_idle_s=90)
    await add_turns(manager, "den", 2, clock)
    clock.advance(3600)  # a new session
    await add_turns(manager, "den", 3, clock)
    await add_turns(manager, "hall", 2, clock)
    assert await manager.retention.apply() == (1, 4)  # den's first session emptied and removed
    sessions = await manager.device_sessions("den")
    assert [m.text for m in sessions[0].history] == ["question 0", "answer 0", "question 1", "answer 1",
                                                     "question 2", "answer 2"]
    assert len(sessions) == 1 and len((await manager.device_sessions("hall"))[0].history) == 4
    assert await manager.retention.apply() == (0, 0)


async def test_zero_keeps_everything(make_manager):
    clock = Clock()
    manager = await make_manager(clock=clock, retention_days=0, max_turns_per_device=0)
    await add_turns(manager, "den", 3, clock)
    clock.advance(3650 * DAY_S)
    assert await manager.retention.apply() == (0, 0)


async def test_the_background_pass_runs_at_start_and_stops_with_the_manager(make_manager):
    clock = Clock()
    manager = await make_manager(clock=clock, max_turns_per_device=1)
    await add_turns(manager, "den", 3, clock)
    manager.start_retention()
    for _ in range(100):
        if len((await manager.device_sessions("den"))[0].history) == 2:
            break
        await asyncio.sleep(0.02)
    assert [m.text for m in (await manager.device_sessions("den"))[0].history] == ["question 2", "answer 2"]
    await manager.close()
    assert manager._retaining is None
