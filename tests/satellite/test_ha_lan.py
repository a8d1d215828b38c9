"""HA mode on a LAN with strangers: a live Home Assistant keeps its satellite, a stale socket
is replaced, an allow-list refuses everyone else."""

import asyncio

import pytest
from wyoming.event import Event

from tests.satellite.ha_client import Ha, until


async def pinging(client, stop: asyncio.Event) -> None:
    """What HA does while connected: a ping every second here (every 5 s in HA)."""
    while not stop.is_set():
        await client.send(Event("ping", {"text": "ha"}))
        await asyncio.sleep(1.0)


async def test_a_live_home_assistant_cannot_be_displaced(tmp_path, command_wav):
    sat = Ha(tmp_path, command_wav)
    try:
        owner = await sat.client()
        await owner.send(Event("run-satellite"))
        stop = asyncio.Event()
        pings = asyncio.create_task(pinging(owner, stop))
        await asyncio.sleep(0.5)
        intruder = await sat.client()
        await intruder.send(Event("describe"))
        assert (await intruder.read(timeout=10)).type == "info"  # describe is for everyone
        await intruder.send(Event("run-satellite"))
        refused = await intruder.read(timeout=10)
        assert refused.type == "error" and refused.data["code"] == "busy", refused
        assert await intruder.closed(timeout=5)
        sat.speak()  # the owner still gets the microphone, the intruder nothing
        events = await until(owner, "audio-stop")
        assert [e for e in events if e.type == "run-pipeline"] and [e for e in events if e.type == "audio-chunk"]
        stop.set()
        await pings
        assert "is using this satellite" in sat.proc.log
    finally:
        sat.proc.stop()


async def test_a_silent_owner_is_replaced_by_the_next_home_assistant(tmp_path, command_wav):
    sat = Ha(tmp_path, command_wav)
    try:
        stale = await sat.client()
        await stale.send(Event("run-satellite"))
        await asyncio.sleep(0.3)
        early = await sat.client()
        await early.send(Event("run-satellite"))
        assert (await early.read(timeout=10)).data["code"] == "busy"
        await asyncio.sleep(12.5)  # ha.owner_quiet_s: the stale socket has been silent that long
        fresh = await sat.client()
        await fresh.send(Event("run-satellite"))
        assert await stale.closed(timeout=5)
        sat.speak()
        events = await until(fresh, "audio-stop")
        assert [e for e in events if e.type == "run-pipeline"]
    finally:
        sat.proc.stop()


async def test_the_allow_list_refuses_other_addresses(tmp_path, command_wav):
    sat = Ha(tmp_path, command_wav, "--allow", "127.0.0.2,10.0.0.0/24")
    try:
        other = await sat.client()  # from 127.0.0.1
        await other.send(Event("describe"))
        refused = await other.read(timeout=10)
        assert refused.type == "error" and refused.data["code"] == "forbidden", refused
        assert await other.closed(timeout=5)
        friend = await sat.client(source="127.0.0.2")
        await friend.send(Event("describe"))
        assert (await friend.read(timeout=10)).type == "info"
        await friend.send(Event("run-satellite"))
        sat.speak()
        assert [e for e in await until(friend, "audio-stop") if e.type == "run-pipeline"]
    finally:
        sat.proc.stop()


def test_a_bad_allow_entry_stops_the_start(tmp_path, command_wav):
    with pytest.raises(RuntimeError, match="does not appear to be an IPv4 or IPv6"):
        Ha(tmp_path, command_wav, "--allow", "kitchen")


async def test_playback_from_the_wire_is_bounded(tmp_path, command_wav):
    """One stream far longer than MAX_STREAM_S, then many audio-starts: dropped or refused, never held."""
    import psutil

    from satellite.player import MAX_STREAM_S, MAX_WAITING
    from tests.satellite.ha_client import REPLY_RATE

    sat = Ha(tmp_path, command_wav)
    try:
        client = await sat.client()
        await client.send(Event("run-satellite"))
        fmt = {"rate": REPLY_RATE, "width": 2, "channels": 1}
        second = bytes(2 * REPLY_RATE)
        rss = psutil.Process(sat.proc.pid).memory_info().rss
        await client.send(Event("audio-start", fmt))
        for _ in range(int(MAX_STREAM_S) * 3):  # three times the cap: 6 min of audio, 32 MB
            await client.send(Event("audio-chunk", fmt, payload=second))
        await client.send(Event("ping", {"text": "long"}))
        await until(client, "pong", timeout=60)
        assert sat.proc.wait_for_log("longer than 120 s; dropping the rest", timeout=10), sat.proc.log
        for _ in range(3 * MAX_WAITING):  # it still plays: a few streams may wait, the rest are refused
            await client.send(Event("audio-start", fmt))
            for _ in range(5):
                await client.send(Event("audio-chunk", fmt, payload=second))
        await client.send(Event("ping", {"text": "many"}))
        errors = [e for e in await until(client, "pong", timeout=30) if e.type == "error"]
        assert len(errors) == 3 * MAX_WAITING - MAX_WAITING and {e.data["code"] for e in errors} == {"busy"}
        grown = psutil.Process(sat.proc.pid).memory_info().rss - rss
        assert grown < 1.5 * MAX_STREAM_S * len(second) + 64 * 1024 * 1024, grown
        assert sat.proc.alive
    finally:
        sat.proc.stop()
