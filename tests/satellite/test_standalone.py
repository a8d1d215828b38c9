"""Standalone mode end to end: the satellite process fed Piper speech, playback into a WAV
file, real STT / intent / TTS server processes. Tests that need a particular intent
behaviour (non-streaming, a long reply, a fixed answer) use a test double (doubles.py).
"""

import asyncio
import json
import sys
import urllib.request
import wave
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from tests.intent.server_support import NO_EMBEDDED_LLM
from tests.satellite.doubles import REPLY, IntentDouble
from tests.satellite.ha_client import MIC
from tests.satellite.process import SatelliteProcess
from tests.satellite.speech import read_wav, silence, spoken, write_wav
from tests.support.processes import ServerProcess
from tests.support.services import free_port



@pytest.fixture
async def intent():
    double = await IntentDouble().start()
    yield double
    await double.stop()


def uri(server: ServerProcess) -> str:
    return f"tcp://{server.host}:{server.port}"


def satellite(tmp_path: Path, *args: str, wake: bool = False) -> SatelliteProcess:
    """`wake`: the default trigger (okay nabu); else every speech starts a turn (--no-wake-word)."""
    trigger = [] if wake else ["--no-wake-word"]
    return SatelliteProcess(["run", "--device-id", "kitchen-pi", "--data-dir", str(tmp_path / "data"),
                             "--snd-file", str(tmp_path / "played.wav"), *trigger, *args], wait_for_port=False).start()


async def exited(proc: SatelliteProcess, timeout: float = 90.0) -> int:
    try:
        async with asyncio.timeout(timeout):
            while proc.proc.poll() is None:
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"satellite still running after {timeout} s:\n{proc.log}") from None
    return proc.proc.returncode


async def logged(proc: SatelliteProcess, pattern: str, timeout: float = 60.0) -> None:
    import re

    async with asyncio.timeout(timeout):
        while not re.search(pattern, proc.log):
            assert proc.alive, proc.log
            await asyncio.sleep(0.1)


def turns(proc: SatelliteProcess) -> list[dict]:
    return [json.loads(line[line.index("{"):]) for line in proc.lines if '"satellite-turn"' in line]


def played_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


async def test_a_spoken_question_is_answered_aloud(tmp_path, stt_server, tts_server, intent, question_wav):
    sat = satellite(tmp_path, "--mic-file", str(question_wav), "--max-turns", "1",
                    "--stt-uri", uri(stt_server), "--intent-uri", intent.uri, "--tts-uri", uri(tts_server))
    try:
        assert await exited(sat) == 0, sat.log
    finally:
        sat.stop()
    # the intent server got the transcript with the device context
    assert len(intent.received) == 1
    request = intent.received[0]
    assert "time" in request["text"].lower()
    assert request["context"]["device_id"] == "kitchen-pi" == request["context"]["satellite_id"]
    # the reply was played: both sentences, real speech from the TTS server
    audio, rate = read_wav(tmp_path / "played.wav")
    assert rate == 22050
    assert 1.5 <= len(audio) / rate <= 8.0
    assert np.sqrt(np.mean(audio ** 2)) > 0.01
    (record,) = turns(sat)
    assert record["outcome"] == "played" and record["device_id"] == "kitchen-pi"
    assert record["reply"] == " ".join(REPLY)
    # audio went to STT while the user spoke, not after
    assert record["streamed_before_end_s"] >= 0.8
    assert set(record["stages_s"]) == {"speech_end_to_transcript", "transcript_to_reply_text",
                                       "reply_text_to_reply_audio", "reply_audio_to_heard"}
    assert 0 < record["speech_end_to_heard_s"] < 10
    assert abs(sum(record["share"].values()) - 1.0) < 0.01


async def test_by_default_okay_nabu_starts_the_turn(tmp_path, stt_server, tts_server, intent):
    """No trigger flag: the command alone starts nothing, "Okay Nabu" then the command is one turn."""
    wav = write_wav(tmp_path / "wake.wav", np.concatenate([
        silence(0.3), spoken("What is the weather like?"), silence(1.0),  # no wake word: ignored
        spoken("Okay Nabu."), silence(0.3), spoken("What time is it?"), silence(0.3)]))
    sat = satellite(tmp_path, "--mic-file", str(wav), "--max-turns", "1", "--stt-uri", uri(stt_server),
                    "--intent-uri", intent.uri, "--tts-uri", uri(tts_server), wake=True)
    try:
        assert await exited(sat) == 0, sat.log
    finally:
        sat.stop()
    assert "wake word okay_nabu" in sat.log
    (request,) = intent.received
    assert "time" in request["text"].lower() and "weather" not in request["text"].lower(), request
    assert [t["outcome"] for t in turns(sat)] == ["played"], sat.log


async def test_a_non_streaming_intent_server_works_too(tmp_path, stt_server, tts_server, question_wav):
    double = await IntentDouble(streaming=False).start()
    sat = satellite(tmp_path, "--mic-file", str(question_wav), "--max-turns", "1",
                    "--stt-uri", uri(stt_server), "--intent-uri", double.uri, "--tts-uri", uri(tts_server))
    try:
        assert await exited(sat) == 0, sat.log
    finally:
        sat.stop()
        await double.stop()
    (record,) = turns(sat)
    assert record["outcome"] == "played"
    assert played_seconds(tmp_path / "played.wav") >= 1.5


async def test_unreachable_server_gives_an_error_tone_then_reconnects(tmp_path, stt_server, intent, question_wav):
    go = tmp_path / "go"
    port = free_port()
    config = tmp_path / "fast-retry.yaml"
    config.write_text("standalone:\n  retry_min_s: 0.2\n  retry_max_s: 1.0\n")
    mic = f"{sys.executable} {MIC} --wav {question_wav} --go {go}"
    sat = satellite(tmp_path, "--config", str(config), "--mic-command", mic, "--max-turns", "2",
                    "--stt-uri", uri(stt_server), "--intent-uri", intent.uri, "--tts-uri", f"tcp://127.0.0.1:{port}")
    tts = None
    try:
        await logged(sat, "standalone: listening")
        go.touch()
        await logged(sat, "cannot take a turn: tts server")
        await asyncio.sleep(1.0)
        assert 0.3 <= played_seconds(tmp_path / "played.wav") <= 0.6  # the error tone, nothing else
        tts = ServerProcess(["tts", "--uri", f"tcp://127.0.0.1:{port}", "--no-zeroconf",
                             "--data-dir", str(tmp_path / "tts")]).start()
        await logged(sat, "tts server .* is reachable again")
        go.touch()
        assert await exited(sat) == 0, sat.log
    finally:
        sat.stop()
        if tts is not None:
            tts.stop()
    assert [t["outcome"] for t in turns(sat)] == ["server-down", "played"]
    assert played_seconds(tmp_path / "played.wav") >= 2.0


@pytest.mark.parametrize("barge_in", [True, False])
async def test_speech_during_the_reply(tmp_path, stt_server, tts_server, question_wav, barge_in):
    double = await IntentDouble(reply=["Here is a long answer."] * 6).start()
    go = tmp_path / "go"
    mic = f"{sys.executable} {MIC} --wav {question_wav} --go {go}"
    flag = "--barge-in" if barge_in else "--no-barge-in"
    sat = satellite(tmp_path, "--mic-command", mic, "--max-turns", "2" if barge_in else "1", flag,
                    "--stt-uri", uri(stt_server), "--intent-uri", double.uri, "--tts-uri", uri(tts_server))
    try:
        await logged(sat, "standalone: listening")
        go.touch()
        await logged(sat, "transcript: ")
        while played_seconds(tmp_path / "played.wav") < 1.0:
            await asyncio.sleep(0.1)
        go.touch()  # the user speaks again while the reply plays
        assert await exited(sat) == 0, sat.log
    finally:
        sat.stop()
        await double.stop()
    outcomes = [t["outcome"] for t in turns(sat)]
    if barge_in:
        assert "barge-in: stopping playback" in sat.log
        assert outcomes == ["interrupted", "played"]
    else:
        assert "barge-in" not in sat.log
        assert outcomes == ["played"]
        assert played_seconds(tmp_path / "played.wav") >= 6.0  # the whole long answer


def test_no_servers_anywhere_is_not_a_crash(tmp_path, question_wav):
    """Nothing on the network: every utterance gets the error tone, the satellite keeps running."""
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "satellite", "run", "--no-wake-word", "--data-dir", str(tmp_path), "--mic-file", str(question_wav),
         "--snd-file", str(tmp_path / "played.wav"), "--max-turns", "1",
         "--stt-uri", f"tcp://127.0.0.1:{free_port()}", "--intent-uri", f"tcp://127.0.0.1:{free_port()}",
         "--tts-uri", f"tcp://127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "cannot take a turn" in result.stderr
    assert 0.3 <= played_seconds(tmp_path / "played.wav") <= 0.6


async def test_servers_are_found_by_zeroconf(tmp_path, stt_server, intent, question_wav):
    """The TTS server is not named: it is browsed for on loopback and asked what it serves."""
    tts = ServerProcess(["tts", "--uri", "tcp://127.0.0.1:0", "--data-dir", str(tmp_path / "tts")]).start()
    config = tmp_path / "loopback.yaml"
    config.write_text("standalone:\n  discovery_interface: 127.0.0.1\n  discovery_s: 2.0\n")
    try:
        assert tts.wait_for_log("advertised nexus-tts-", timeout=15), tts.log
        sat = satellite(tmp_path, "--config", str(config), "--mic-file", str(question_wav), "--max-turns", "1",
                        "--stt-uri", uri(stt_server), "--intent-uri", intent.uri)
        try:
            assert await exited(sat) == 0, sat.log
        finally:
            sat.stop()
    finally:
        tts.stop()
    assert "found tts server nexus-tts-" in sat.log
    assert [t["outcome"] for t in turns(sat)] == ["played"]


@pytest.fixture(scope="module")
def intent_server(tmp_path_factory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("intent")
    server = ServerProcess(["intent", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", str(data)],
                           env={"GROQ_API_KEY": "", "GOOGLE_API_KEY": "", "TAVILY_API_KEY": "",
                                **NO_EMBEDDED_LLM}).start()  # skills answer these turns
    server.data_dir = data
    yield server
    server.stop()


async def test_the_whole_real_stack_stores_the_turn_under_the_device_id(tmp_path, stt_server, intent_server,
                                                                         tts_server, question_wav):
    """Real STT, intent and TTS processes: the reply is spoken and the session belongs to the device."""
    import subprocess

    second = write_wav(tmp_path / "second.wav", np.concatenate([silence(0.3), spoken("What is two plus two?"),
                                                                silence(0.3)]))
    go = tmp_path / "go"
    mic = f"{sys.executable} {MIC} --wav {question_wav} --wav {second} --go {go}"
    sat = satellite(tmp_path, "--mic-command", mic, "--max-turns", "2", "--no-barge-in",
                    "--stt-uri", uri(stt_server), "--intent-uri", uri(intent_server), "--tts-uri", uri(tts_server))
    try:
        await logged(sat, "standalone: listening")
        go.touch()
        await logged(sat, '"satellite-turn"', timeout=120)  # the second question waits for the first turn
        go.touch()
        assert await exited(sat, timeout=120) == 0, sat.log
    finally:
        sat.stop()
    records = turns(sat)
    assert [t["outcome"] for t in records] == ["played", "played"], sat.log
    assert played_seconds(tmp_path / "played.wav") >= 1.0
    shown = subprocess.run([sys.executable, "-m", "nexus_wyoming", "sessions", "show", "kitchen-pi",
                            "--data-dir", str(intent_server.data_dir)], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    from nexus_wyoming.intent.assistant import NO_MODEL

    # Every handled reply the user heard is in the history (Whisper may mishear a
    # question on a loaded machine; the "need an internet model" answer is not a turn).
    handled = [t for t in records if t["reply"] != NO_MODEL]
    assert handled and "time" in shown.stdout.lower(), (shown.stdout, records)
    for turn in handled:
        assert turn["reply"].lower() in shown.stdout.lower(), (shown.stdout, records)
    assert shown.stdout.count("session ") == 1  # the turns are one conversation of this device


async def test_sigterm_stops_standalone_cleanly(tmp_path, question_wav):
    mic = f"{sys.executable} {MIC} --wav {question_wav}"
    metrics_port = free_port()
    sat = satellite(tmp_path, "--mic-command", mic, "--stt-uri", f"tcp://127.0.0.1:{free_port()}",
                    "--intent-uri", f"tcp://127.0.0.1:{free_port()}", "--tts-uri", f"tcp://127.0.0.1:{free_port()}",
                    "--metrics-port", str(metrics_port))
    try:
        await logged(sat, "standalone: listening")
        await logged(sat, "cannot take a turn")  # the question is heard; no server: error tone
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
            assert 'nexus_satellite_turns_total{mode="standalone",outcome="server-down"} 1' in response.read().decode()
        assert sat.terminate(timeout=15) == 0
    finally:
        sat.stop()
    assert played_seconds(tmp_path / "played.wav") > 0  # the WAV is valid after the stop
