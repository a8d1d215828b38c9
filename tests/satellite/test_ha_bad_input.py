"""Home Assistant mode under bad input: garbage, bad data, disconnects, a dying mic, bad formats."""

import asyncio
import re
import struct
import subprocess
import sys

import numpy as np
import pytest
from wyoming.event import Event

from tests.satellite.process import SatelliteProcess
from tests.satellite.speech import noise, silence, spoken, write_wav
from tests.satellite.ha_client import Ha, reply_events, send_all, until


async def _still_answers(ha) -> None:
    client = await ha.client()
    await client.send(Event("ping", {"text": "alive?"}))
    assert (await until(client, "pong", timeout=5))[-1].data["text"] == "alive?"
    await client.close()


@pytest.mark.parametrize("garbage", [
    b"this is not json\n",
    b"[1, 2, 3]\n",
    b'{"type": "audio-chunk", "payload_length": 99999999999}\n',
    b'{"type": "audio-chunk", "data_length": -5}\n',
    b"\xff\xfe\x00\x01\n",
], ids=["not-json", "not-object", "huge-payload", "negative-length", "binary"])
async def test_garbage_gets_an_error_and_the_satellite_lives_on(ha, garbage):
    home = await ha.client()
    await home.send(Event("run-satellite"))
    bad = await ha.client()
    await bad.send_raw(garbage)
    reply = await bad.read(5)
    assert reply is not None and reply.type == "error"
    assert await bad.closed()
    assert ha.proc.alive
    await home.send(Event("ping"))
    await until(home, "pong", timeout=5)  # the Home Assistant connection was not disturbed
    await _still_answers(ha)


@pytest.mark.parametrize("event", [
    Event("transcript", {}),
    Event("audio-start", {"rate": 22050, "width": 7, "channels": 1}),
    Event("audio-start", {"rate": "fast", "width": 2, "channels": 1}),
    Event("audio-start", {"rate": 0, "width": 2, "channels": 1}),
    Event("audio-chunk", {"rate": 22050}, payload=b"\x00\x00"),
    Event("timer-started", {"id": "t"}),
    Event("error", {}),
], ids=["transcript-no-text", "width-7", "rate-text", "rate-0", "chunk-no-width", "timer-no-seconds", "error-no-text"])
async def test_bad_data_in_a_known_event_is_an_error_event_not_a_crash(ha, event):
    client = await ha.client()
    await client.send(Event("run-satellite"))
    await client.send(event)
    reply = await client.read(5)
    assert reply.type == "error" and reply.data["code"] == "bad-event"
    await client.send(Event("ping"))
    await until(client, "pong", timeout=5)  # same connection keeps working
    await client.close()


async def test_chunks_after_a_rejected_audio_start_are_skipped_then_next_reply_plays(ha):
    client = await ha.client()
    await client.send(Event("run-satellite"))
    bad = reply_events(0.5)
    bad[0] = Event("audio-start", {"rate": 22050, "width": 9, "channels": 1})
    await send_all(client, bad)
    assert (await client.read(5)).type == "error"
    await send_all(client, reply_events(0.3))
    events = await until(client, "played")
    assert [e.type for e in events] == ["played"]  # the rejected stream was never played
    assert ha.played_seconds() == pytest.approx(0.3, abs=0.05)
    await client.close()


async def test_home_assistant_disconnecting_mid_pipeline(ha):
    client = await ha.client()
    await client.send(Event("run-satellite"))
    ha.speak()
    assert (await client.read(10)).type == "run-pipeline"
    await client.read(5)
    await client.close()  # gone while we stream
    assert ha.proc.wait_for_log("Home Assistant disconnected")
    await asyncio.sleep(3.0)  # the rest of the command is heard with nobody to send it to
    assert ha.proc.alive
    again = await ha.client()
    await again.send(Event("run-satellite"))
    ha.speak()
    events = await until(again, "audio-stop")
    assert events[0].type == "run-pipeline"
    await again.close()


async def test_a_new_connection_takes_over_at_once_when_the_old_one_hung_up(ha):
    """(A live owner is never displaced, a silent one after ha.owner_quiet_s: test_ha_lan.py.)"""
    old = await ha.client()
    await old.send(Event("run-satellite"))
    await old.close()
    assert ha.proc.wait_for_log("Home Assistant disconnected", timeout=10), ha.proc.log
    new = await ha.client()
    await new.send(Event("run-satellite"))
    ha.speak()
    assert (await until(new, "audio-stop"))[0].type == "run-pipeline"
    await new.close()


async def test_disconnect_in_the_middle_of_reply_audio(ha):
    client = await ha.client()
    await client.send(Event("run-satellite"))
    await send_all(client, reply_events(1.0)[:5])
    await client.close()
    await asyncio.sleep(0.5)
    assert ha.proc.alive
    await _still_answers(ha)


def test_mic_command_that_dies_is_restarted_with_growing_backoff(tmp_path, command_wav):
    ha = Ha(tmp_path, command_wav, mic_args="--exit-after 0.3")
    try:
        assert ha.proc.wait_for_log(r"restart 3 in", timeout=20)
        delays = [float(d) for d in re.findall(r"restart \d+ in ([\d.]+) s", ha.proc.log)]
        assert delays[:3] == [0.5, 1.0, 2.0]
        assert ha.proc.alive
        asyncio.run(_still_answers(ha))
    finally:
        ha.proc.stop()


def _run_satellite(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "satellite", *args], capture_output=True, text=True, timeout=60)


def test_unsupported_mic_file_format_is_a_clear_error(tmp_path):
    floats = tmp_path / "float.wav"
    data = struct.pack("<4f", 0.1, 0.2, 0.3, 0.4)
    floats.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
                       + struct.pack("<IHHIIHH", 16, 3, 1, 16000, 64000, 4, 32) + b"data"
                       + struct.pack("<I", len(data)) + data)
    result = _run_satellite("ha", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--mic-file", str(floats),
                            "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "unsupported --mic-file" in result.stderr


@pytest.mark.parametrize("flag, value", [("--mic-width", "5"), ("--mic-channels", "9"), ("--mic-rate", "0")])
def test_unsupported_mic_command_format_is_refused(tmp_path, flag, value):
    result = _run_satellite("ha", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--mic-command", "cat",
                            flag, value, "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "config error" in result.stderr and flag.lstrip("-").replace("-", "_") in result.stderr


async def test_other_mic_formats_are_converted(tmp_path):
    """A 48 kHz stereo 32-bit microphone: converted to 16 kHz mono, and speech still runs a turn."""
    import soxr

    speech = soxr.resample(np.concatenate([silence(0.3), spoken("What time is it?"), silence(0.2)]), 16000, 48000)
    wav = write_wav(tmp_path / "hifi.wav", speech, rate=48000, width=4, channels=2)
    ha = Ha(tmp_path, wav, "--mic-rate", "48000", "--mic-width", "4", "--mic-channels", "2")
    try:
        client = await ha.client()
        await client.send(Event("run-satellite"))
        ha.speak()
        events = await until(client, "audio-stop")
        chunks = [e for e in events if e.type == "audio-chunk"]
        assert {(c.data["rate"], c.data["channels"]) for c in chunks} == {(16000, 1)}
        assert 1.0 <= sum(len(c.payload) for c in chunks) / 32000 <= 3.0
        await client.close()
    finally:
        ha.proc.stop()


def test_a_finished_mic_file_leaves_ha_mode_serving(tmp_path):
    wav = write_wav(tmp_path / "short.wav", silence(0.2), rate=8000, width=1)
    sat = SatelliteProcess(["ha", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--mic-file", str(wav),
                            "--data-dir", str(tmp_path)]).start()
    try:
        assert sat.wait_for_log("microphone ended", timeout=10)
        assert sat.alive
    finally:
        sat.stop()


def test_mic_noise_alone_never_runs_a_pipeline(tmp_path):
    wav = write_wav(tmp_path / "room.wav", noise(3.0, 0.004))
    ha = Ha(tmp_path, wav)
    try:
        async def listen():
            client = await ha.client()
            await client.send(Event("run-satellite"))
            ha.speak()
            await asyncio.sleep(3.5)
            await client.send(Event("ping"))
            return [e.type for e in await until(client, "pong")]

        assert asyncio.run(listen()) == ["pong"]
    finally:
        ha.proc.stop()
