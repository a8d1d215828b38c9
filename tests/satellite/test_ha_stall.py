"""A Home Assistant that stops reading, against a real satellite process over real TCP.

The microphone never waits on the network (satellite/outbox.py): while the peer reads
nothing, capture goes on, the oldest queued audio is dropped with one log line, the
satellite answers others at once, and once the peer reads again it gets the most recent
audio. A stall past the outbox's send limit ends that connection and the next HA is served.
The mic (clock_mic.py) puts its capture time into the tone's pitch, so every chunk HA gets
says when it was heard.
"""

import asyncio
import json
import re
import socket
import sys
import time
from pathlib import Path
from typing import Optional

from wyoming.event import Event, async_read_event, async_write_event
from wyoming.pipeline import PipelineStage, RunPipeline

from satellite.outbox import MAX_QUEUED_AUDIO, SEND_TIMEOUT_S
from tests.satellite.clock_mic import captured_at
from tests.satellite.process import SatelliteProcess
from tests.support.client import WyomingClient

MIC = Path(__file__).parent / "clock_mic.py"
FRAME_S = 0.03  # what the satellite streams per audio-chunk
FRAME_BYTES = 960
QUEUED_S = MAX_QUEUED_AUDIO * FRAME_S  # the most audio the outbox holds back
# The tone is never speech (energy VAD, threshold above it): a triggered turn streams until no_speech_s.
CONFIG = "frontend:\n  vad: energy\n  energy_threshold: 0.9\n  no_speech_s: 60\n  max_utterance_s: 300\n"
DROPPING = r"not keeping up: dropping the oldest audio"
CAUGHT_UP = r"caught up; (\d+) audio chunks were dropped"


class StallingHa:
    """HA on a socket with a 4 KiB receive buffer; `stall` stops reading at the socket itself."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, t0: float) -> None:
        self.reader, self.writer, self.t0 = reader, writer, t0
        self.audio: list[tuple[float, float]] = []  # (arrival, capture), seconds after t0
        self.pongs: asyncio.Queue[float] = asyncio.Queue()
        self.ended: Optional[str] = None
        self.task = asyncio.create_task(self._read())

    @staticmethod
    async def connect(host: str, port: int, t0: float) -> "StallingHa":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window stays small
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        reader, writer = await asyncio.open_connection(sock=sock)
        return StallingHa(reader, writer, t0)

    async def _read(self) -> None:
        try:
            while (event := await async_read_event(self.reader)) is not None:
                now = time.time() - self.t0
                if event.type == "audio-chunk" and len(event.payload or b"") == FRAME_BYTES:
                    self.audio.append((now, captured_at(event.payload)))
                elif event.type == "pong":
                    self.pongs.put_nowait(now)
            self.ended = "closed"
        except (ConnectionError, OSError) as err:
            self.ended = type(err).__name__

    async def send(self, event: Event) -> None:
        await async_write_event(event, self.writer)

    async def run(self) -> None:
        """What HA does to start a turn: run-satellite, then trigger the pipeline."""
        await self.send(Event("run-satellite"))
        await self.send(RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event())

    async def heard(self, seconds: float, timeout: float = 20.0) -> None:
        """Until `seconds` more of audio arrived."""
        want = len(self.audio) + round(seconds / FRAME_S)
        async with asyncio.timeout(timeout):
            while len(self.audio) < want:
                await asyncio.sleep(0.05)

    async def ping(self, timeout: float = 10.0) -> float:
        """Seconds until the pong came (through whatever audio was queued before it)."""
        asked = time.time() - self.t0
        await self.send(Event("ping", {"text": "stall"}))
        return await asyncio.wait_for(self.pongs.get(), timeout) - asked

    def stall(self) -> None:
        self.writer.transport.pause_reading()

    def resume(self) -> None:
        self.writer.transport.resume_reading()


async def log_count(sat: SatelliteProcess, pattern: str, count: int, timeout: float) -> bool:
    """True once `pattern` occurs `count` times in the satellite's log (waited for off the loop)."""
    deadline = time.monotonic() + timeout
    while len(re.findall(pattern, sat.log)) < count:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def ping_elsewhere(sat: SatelliteProcess) -> float:
    """A second connection's ping round trip (describe/ping are answered for anyone)."""
    client = await WyomingClient.connect(sat.host, sat.port)
    asked = time.monotonic()
    await client.send(Event("ping", {"text": "anyone there"}))
    assert (await client.read(10)).type == "pong"
    await client.close()
    return time.monotonic() - asked


async def test_a_stalled_home_assistant_never_stops_the_microphone(tmp_path):
    t0 = time.time()
    stats = tmp_path / "mic.json"
    config = tmp_path / "satellite.yaml"
    config.write_text(CONFIG)
    sat = SatelliteProcess([
        "ha", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", str(tmp_path / "data"),
        "--device-id", "kitchen-pi", "--snd-file", str(tmp_path / "played.wav"), "--no-wake-word",
        "--config", str(config), "--mic-command", f"{sys.executable} {MIC} --t0 {t0} --stats {stats}",
    ]).start()
    try:
        ha = await StallingHa.connect(sat.host, sat.port, t0)
        await ha.run()
        await ha.heard(1.0)

        # 1. Stall until the outbox has dropped for a while, but well inside its send limit.
        stalled = time.time() - t0
        ha.stall()
        assert await log_count(sat, DROPPING, 1, timeout=20), "nothing dropped: the audio queued elsewhere\n" + sat.log
        elsewhere_s = await ping_elsewhere(sat)  # the satellite at its busiest: still answers at once
        await asyncio.sleep(0.5)
        resumed = time.time() - t0
        ha.resume()
        pong_s = await ha.ping()
        assert await log_count(sat, CAUGHT_UP, 1, timeout=10), sat.log
        await ha.heard(1.0)
        dropped = int(re.search(CAUGHT_UP, sat.log).group(1))
        mic = json.loads(stats.read_text())

        assert elsewhere_s < 2.0 and pong_s < 3.0, (elsewhere_s, pong_s)  # HA gives up after 5 s
        assert len(re.findall(DROPPING, sat.log)) == 1 and dropped >= 1
        assert mic["lost_s"] == 0 and mic["longest_write_s"] < 1.0, mic  # capture never waited
        captures = [capture for _, capture in ha.audio]
        jumps = [(i, b - a) for i, (a, b) in enumerate(zip(captures, captures[1:]), 1) if abs(b - a - FRAME_S) > 0.01]
        assert len(jumps) == 1, jumps  # one stretch missing: what the outbox dropped, nothing else
        at, jump = jumps[0]
        assert abs(jump - (dropped + 1) * FRAME_S) < 0.1, (jump, dropped)
        held = resumed - captures[at]  # the outbox kept the newest QUEUED_S, not what came first
        assert QUEUED_S - 0.75 < held < QUEUED_S + 1.0, (held, captures[at - 1] - stalled)
        print(f"\nstalled {resumed - stalled:.2f} s; dropped {dropped} chunks ({dropped * FRAME_S:.2f} s); "
              f"after the gap: audio captured {held:.2f} s before resuming "
              f"(last before it: {captures[at - 1] - stalled:+.2f} s from the stall's start); "
              f"pong {pong_s * 1000:.0f} ms, other client's ping {elsewhere_s * 1000:.0f} ms; mic {mic}")

        # 2. A stall past the send limit: that connection goes, the next Home Assistant is served.
        cut_from = time.monotonic()
        ha.stall()
        assert await log_count(sat, r"Home Assistant disconnected", 1, timeout=SEND_TIMEOUT_S + 15), sat.log
        stall_s = time.monotonic() - cut_from
        ha.resume()
        async with asyncio.timeout(10):
            await asyncio.shield(ha.task)
        assert ha.ended is not None
        fresh = await StallingHa.connect(sat.host, sat.port, t0)
        await fresh.run()
        await fresh.heard(0.5)
        now = time.time() - t0
        assert now - 2.0 < fresh.audio[0][1] < now, (fresh.audio[0], now)  # live audio, nothing held over
        assert await fresh.ping() < 3.0
        assert sat.alive and "Traceback" not in sat.log, sat.log
        mic = json.loads(stats.read_text())
        assert mic["lost_s"] == 0, mic
        print(f"long stall: dropped after {stall_s:.2f} s ({ha.ended}); new connection served; mic {mic}")
    finally:
        sat.stop()
