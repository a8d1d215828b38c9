"""Home Assistant mode over real TCP: a client that behaves like HA 2025.4's Wyoming satellite."""

import asyncio
import json
import re
import time

import numpy as np
from wyoming.event import Event
from wyoming.info import Info

from tests.satellite.ha_client import Ha, reply_events, send_all, until
from tests.satellite.process import SatelliteProcess
from tests.satellite.speech import silence, spoken, tone, write_wav

async def test_describe_is_a_satellite_with_local_vad(ha):
    client = await ha.client()
    await client.send(Event("describe"))
    info = Info.from_event(await client.read())
    assert info.satellite is not None
    assert info.satellite.has_vad is True and info.satellite.supports_trigger is True
    assert info.satellite.name == "nexus-satellite"
    await client.close()


async def test_a_whole_turn_as_home_assistant_runs_it(ha):
    client = await ha.client()
    await client.send(Event("run-satellite"))
    await client.send(Event("describe"))
    assert (await client.read()).type == "info"
    ha.speak()
    events = await until(client, "audio-stop")
    types = [e.type for e in events]
    assert types[0] == "run-pipeline" and set(types[1:]) == {"audio-chunk", "audio-stop"}  # what HA 2025.4 handles
    assert events[0].data["start_stage"] == "asr" and events[0].data["end_stage"] == "tts"
    assert types[-1] == "audio-stop"  # our VAD ended it: HA need not wait
    chunks = [e for e in events if e.type == "audio-chunk"]
    assert {(c.data["rate"], c.data["width"], c.data["channels"]) for c in chunks} == {(16000, 2, 1)}
    streamed = sum(len(c.payload) for c in chunks) / 32000
    assert 1.8 <= streamed <= 4.0  # the command (~1.9 s) with pre-roll and the 500 ms tail

    # HA answers: transcript, the reply text, reply audio; the satellite says when it was heard
    await client.send(Event("transcript", {"text": "turn on the kitchen lights"}))
    await client.send(Event("synthesize", {"text": "Turned on the lights."}))
    sent = time.monotonic()
    await send_all(client, reply_events(1.0))
    assert [e.type for e in await until(client, "played")] == ["played"]
    assert time.monotonic() - sent >= 0.8  # played means heard, not received
    assert 0.95 <= ha.played_seconds() <= 1.1

    assert ha.proc.wait_for_log(r'"request": "satellite-turn".*"outcome": "played"')
    line = next(l for l in ha.proc.lines if "satellite-turn" in l)
    record = json.loads(line[line.index("{"):])
    assert record["device_id"] == "kitchen-pi" and record["end"] == "silence"
    assert 0 < record["speech_end_to_heard_s"] < 10
    assert set(record["stages_s"]) == {"speech_end_to_transcript", "transcript_to_reply_text",
                                       "reply_text_to_reply_audio", "reply_audio_to_heard"}
    assert 'nexus_satellite_turn_seconds_count{mode="ha"} 1' in ha.metrics()
    await client.close()


async def test_announcement_plays_and_is_acknowledged(ha):
    client = await ha.client()
    await client.send(Event("run-satellite"))
    await send_all(client, reply_events(0.5, rate=16000))  # another rate: converted for the speaker
    assert [e.type for e in await until(client, "played")] == ["played"]
    assert 0.45 <= ha.played_seconds() <= 0.6
    await client.close()


async def test_ping_is_answered_at_once_even_while_streaming(ha):
    client = await ha.client()
    await client.send(Event("run-satellite"))
    ha.speak()
    first = await client.read(10)
    assert first.type == "run-pipeline"
    asked = time.monotonic()
    await client.send(Event("ping", {"text": "hello"}))
    events = await until(client, "pong")
    assert time.monotonic() - asked < 2.0  # HA gives up after 5 s
    assert events[-1].data.get("text") == "hello"
    await client.close()


async def test_paused_satellite_does_not_stream(ha):
    client = await ha.client()
    await client.send(Event("run-satellite"))
    await client.send(Event("pause-satellite"))
    ha.speak()
    await client.send(Event("ping"))
    await until(client, "pong")
    await asyncio.sleep(3.0)  # the command has been spoken by now
    await client.send(Event("ping"))
    assert [e.type for e in await until(client, "pong")] == ["pong"]
    assert "running the Home Assistant pipeline" not in ha.proc.log
    await client.close()


async def test_remote_trigger_starts_a_pipeline(ha):
    client = await ha.client()
    await client.send(Event("run-satellite"))
    await client.send(Event("run-pipeline", {"start_stage": "asr", "end_stage": "tts"}))
    events = await until(client, "run-pipeline", timeout=5)
    assert [e.type for e in events] == ["run-pipeline"]
    ha.speak()
    events = await until(client, "audio-stop")
    assert events[-1].type == "audio-stop"
    await client.close()


async def test_timer_finished_plays_a_chime(ha):
    client = await ha.client()
    await client.send(Event("run-satellite"))
    await client.send(Event("timer-started", {"id": "t1", "total_seconds": 5, "name": "tea"}))
    await client.send(Event("timer-finished", {"id": "t1"}))
    assert ha.proc.wait_for_log(r"timer t1 started: 5 s \(tea\)")
    assert ha.proc.wait_for_log(r"timer t1 finished")
    deadline = time.monotonic() + 5
    while ha.played_seconds() < 0.4 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert ha.played_seconds() >= 0.4  # three beeps
    await client.close()


async def test_the_default_wake_word_reports_detection_then_runs_the_pipeline(tmp_path):
    wav = write_wav(tmp_path / "wake.wav", np.concatenate([
        silence(0.3), spoken("Okay Nabu."), silence(0.3), spoken("What time is it?"), silence(0.2)]))
    awake = write_wav(tmp_path / "awake.wav", tone(660, 0.25), rate=16000)
    done = write_wav(tmp_path / "done.wav", tone(440, 0.15), rate=16000)
    sat = Ha(tmp_path, wav, "--awake-wav", str(awake), "--done-wav", str(done), wake=True)  # no flag names the wake word
    try:
        client = await sat.client()
        await client.send(Event("describe"))
        info = Info.from_event(await client.read())
        assert info.satellite.active_wake_words == ["okay_nabu"]
        assert info.wake[0].models[0].name == "okay_nabu"
        await client.send(Event("run-satellite"))
        sat.speak()
        events = await until(client, "audio-stop")
        # HA 2025.4 reads the detection's name as the wake word phrase of the run that follows
        assert [e.type for e in events[:3]] == ["detection", "run-pipeline", "audio-chunk"]
        assert events[0].data["name"] == "okay_nabu" and info.wake[0].models[0].phrase
        assert events[1].data["start_stage"] == "asr" and events[1].data["end_stage"] == "tts"
        streamed = sum(len(e.payload) for e in events if e.type == "audio-chunk") / 32000
        assert 1.0 <= streamed <= 4.0  # the command after the wake word, and its 500 ms tail
        deadline = time.monotonic() + 5
        while (not sat.snd.exists() or sat.played_seconds() < 0.39) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert 0.39 <= sat.played_seconds() <= 0.42  # the awake sound on the wake word, done when it ended
        await client.close()
    finally:
        sat.proc.stop()


async def test_advertised_by_zeroconf(tmp_path, command_wav):
    from zeroconf import IPVersion
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

    sat = SatelliteProcess(["ha", "--uri", "tcp://127.0.0.1:0", "--data-dir", str(tmp_path), "--device-id",
                            "0123456789abcdef", "--mic-file", str(command_wav)]).start()
    try:
        assert sat.wait_for_log(r"advertised nexus-satellite-", timeout=15), sat.log
        name = re.search(r"advertised (nexus-satellite-\S+?)\._wyoming", sat.log).group(1)
        zeroconf = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
        try:
            info = AsyncServiceInfo("_wyoming._tcp.local.", f"{name}._wyoming._tcp.local.")
            assert await info.async_request(zeroconf.zeroconf, 5000)
            assert info.port == sat.port
        finally:
            await zeroconf.async_close()
    finally:
        sat.stop()


async def test_barge_in_cuts_the_reply_and_starts_a_new_pipeline(tmp_path, command_wav):
    ha = Ha(tmp_path, command_wav, "--barge-in")
    try:
        await _barge_in(ha)
    finally:
        ha.proc.stop()


async def _barge_in(ha: Ha) -> None:
    client = await ha.client()
    await client.send(Event("run-satellite"))
    ha.speak()
    await until(client, "audio-stop")
    await client.send(Event("transcript", {"text": "tell me a story"}))
    await send_all(client, reply_events(8.0))  # a long reply, sent at once as HA does
    await asyncio.sleep(1.0)
    ha.speak()  # the user talks over it
    started = time.monotonic()
    events = await until(client, "run-pipeline")
    assert [e.type for e in events] == ["played", "run-pipeline"]  # the cut reply is acknowledged first
    assert time.monotonic() - started < 3.0
    assert ha.played_seconds() < 4.0
    assert ha.proc.wait_for_log(r'"outcome": "interrupted"')
    await client.close()


async def test_sigterm_stops_ha_mode_cleanly(ha):
    client = await ha.client()
    await client.send(Event("run-satellite"))
    await client.send(Event("ping"))
    await until(client, "pong")
    assert ha.proc.terminate(timeout=15) == 0
    assert await client.closed()
