"""FairExecutor and PendingText: who gets a free synthesis thread, and when text is refused."""

import asyncio
import threading
import time

import pytest

from nexus_wyoming.tts.scheduler import CURRENT_REQUEST, Busy, FairExecutor, PendingText, Reservation


async def as_request(executor: FairExecutor, reservation: Reservation, fn, *args):
    CURRENT_REQUEST.set(reservation)  # a task of its own: the context var stays with it
    return await executor.run(fn, *args)


async def test_the_request_with_the_least_text_left_goes_first():
    executor, gate, order = FairExecutor(1), threading.Event(), []
    pending = PendingText(10_000)
    blocker = asyncio.create_task(as_request(executor, Reservation(pending), gate.wait))
    await asyncio.sleep(0.05)
    long_one = Reservation(pending, held=5000)
    short_one = Reservation(pending, held=12)
    waiting = [asyncio.create_task(as_request(executor, long_one, order.append, "long")),
               asyncio.create_task(as_request(executor, short_one, order.append, "short"))]
    await asyncio.sleep(0.05)
    gate.set()
    await asyncio.gather(blocker, *waiting)
    assert order == ["short", "long"]  # the short one arrived later and still went first
    executor.shutdown()


async def test_a_request_far_ahead_of_its_listener_leaves_the_last_thread_free():
    executor, gate = FairExecutor(2), threading.Event()
    ahead = Reservation(PendingText(100), ahead_s=lambda: 60.0)
    first = asyncio.create_task(as_request(executor, ahead, gate.wait))
    second = asyncio.create_task(as_request(executor, ahead, gate.wait))
    await asyncio.sleep(0.05)
    assert not second.done()
    fresh = await asyncio.wait_for(as_request(executor, Reservation(PendingText(100)), lambda: "now"), 1)
    assert fresh == "now"  # served on the thread kept free, while the far-ahead one waits
    gate.set()
    await asyncio.gather(first, second)
    executor.shutdown()


async def test_a_cancelled_waiter_does_not_lose_a_thread():
    executor, gate = FairExecutor(1), threading.Event()
    blocker = asyncio.create_task(executor.run(gate.wait))
    await asyncio.sleep(0.05)
    waiter = asyncio.create_task(executor.run(lambda: None))
    await asyncio.sleep(0.05)
    waiter.cancel()
    gate.set()
    await blocker
    assert await asyncio.wait_for(executor.run(lambda: "free"), 1) == "free"
    executor.shutdown()


async def test_a_waiter_cancelled_just_as_its_thread_frees_up_does_not_lose_it():
    """The run's end is already queued when the waiter's client leaves (a fuzz run found it:
    the grant hit the cancelled ticket, raised in the loop and kept the thread forever)."""
    executor, gate, ended = FairExecutor(1), threading.Event(), threading.Event()
    errors = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: errors.append(context))

    def hold():
        gate.wait()
        ended.set()

    blocker = asyncio.create_task(executor.run(hold))
    await asyncio.sleep(0.05)
    waiter = asyncio.create_task(executor.run(lambda: None))
    await asyncio.sleep(0.05)
    gate.set()
    ended.wait(1)
    time.sleep(0.05)  # the loop is not running: the thread's release is queued, not yet run
    waiter.cancel()  # now, before the release runs
    await blocker
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert await asyncio.wait_for(executor.run(lambda: "free"), 1) == "free"
    assert errors == []
    executor.shutdown()


def test_pending_text_refuses_beyond_its_limit_and_gives_back_what_was_spoken():
    pending = PendingText(100)
    first, second = Reservation(pending), Reservation(pending)
    first.add(80)
    with pytest.raises(Busy):
        second.add(30)
    first.spend(50)
    second.add(30)
    first.close()
    second.close()
    assert pending.chars == 0
