"""Speech end → first reply sound, measured at the sound device (a PulseAudio null sink).

A private PulseAudio daemon runs two null sinks: a Piper-spoken question is played into
`micfeed`, whose monitor the satellite records from; the satellite plays its reply on
`speaker`, whose monitor is recorded. Both monitors are timestamped on one monotonic
clock, so the figure runs from the question's last sound (10 ms windows above -40 dBFS)
to the reply's first sound, whatever the satellite believes. Real STT and TTS server
processes; the intent server is the test double with a fixed two-sentence reply, so
the figure is the device, the endpointing, STT and TTS, not an LLM. Paths alternate turn
by turn: PortAudio (sounddevice) in and out, then `arecord`/`aplay -D pulse`.

Run from the repo root:  .venv/bin/python bench/device_latency.py [--turns 10] [--json out.json]
(needs: apt-get install pulseaudio pulseaudio-utils libportaudio2 alsa-utils libasound2-plugins)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import tts_args  # noqa: E402
from tests.satellite.doubles import IntentDouble  # noqa: E402
from tests.satellite.pulse import Pulse, device_turn  # noqa: E402
from tests.satellite.speech import silence, spoken, write_wav  # noqa: E402
from tests.support.processes import ServerProcess  # noqa: E402

PATHS = {"sounddevice in + out": ("sounddevice", "sounddevice"), "arecord + aplay": ("arecord", "aplay")}


def quantile(values: list[float], q: float) -> float:
    return float(np.quantile(values, q)) if values else float("nan")


async def measure(turns: int, work: Path) -> dict[str, list[dict]]:
    """`turns` device turns per path, interleaved; one row per turn."""
    wav = write_wav(work / "question.wav", np.concatenate([silence(0.3), spoken("What time is it?"), silence(0.3)]))
    pulse = Pulse().start()
    stt = ServerProcess(["stt", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", str(work / "stt")])
    tts = ServerProcess(tts_args(work / "tts"))
    intent = await IntentDouble().start()
    rows: dict[str, list[dict]] = {name: [] for name in PATHS}
    try:
        stt.start(timeout=180)
        tts.start()
        args = ["--data-dir", str(work / "data"), "--stt-uri", f"tcp://{stt.host}:{stt.port}",
                "--intent-uri", intent.uri, "--tts-uri", f"tcp://{tts.host}:{tts.port}"]
        for number in range(turns):
            for name, (mic, speaker) in PATHS.items():
                turn = await device_turn(pulse, mic, speaker, wav, args)
                record = turn.record or {}
                row = {"device_s": turn.latency_s, "satellite_s": record.get("speech_end_to_heard_s"),
                       "stamp_error_s": turn.stamp_error_s, "outcome": record.get("outcome"),
                       "load_1m": os.getloadavg()[0]}
                rows[name].append(row)
                print(f"[device] turn {number + 1} {name}: " + json.dumps(row), file=sys.stderr)
    finally:
        await intent.stop()
        stt.stop()
        tts.stop()
        pulse.stop()
    return rows


HEADER = ("| path | turns | device p50 | device p90 | satellite's own figure p50 | device − own, p50 "
          "| its 'heard' stamp − monitor, p50 (min…max) | load avg |\n|---|---:|---:|---:|---:|---:|---:|---:|")


def table(rows: dict[str, list[dict]]) -> str:
    """The Markdown table BENCHMARKS.md shows: one row per path."""
    lines = [HEADER]
    for name, turns in rows.items():
        played = [t for t in turns if t["outcome"] == "played" and t["device_s"] is not None]
        device = [t["device_s"] for t in played]
        own = [t["satellite_s"] for t in played if t["satellite_s"] is not None]
        missed = [t["device_s"] - t["satellite_s"] for t in played if t["satellite_s"] is not None]
        error = [t["stamp_error_s"] * 1000 for t in played if t["stamp_error_s"] is not None]
        load = statistics.mean(t["load_1m"] for t in turns) if turns else float("nan")
        spread = f"({min(error, default=0):+.0f}…{max(error, default=0):+.0f})"
        lines.append(f"| {name} | {len(played)}/{len(turns)} | {quantile(device, 0.5):.2f} s "
                     f"| {quantile(device, 0.9):.2f} s | {quantile(own, 0.5):.2f} s | {quantile(missed, 0.5):.2f} s "
                     f"| {quantile(error, 0.5):+.0f} ms {spread} | {load:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=10, help="turns per path")
    parser.add_argument("--json", type=Path, help="write every turn's figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="device-bench-") as work:
        rows = asyncio.run(measure(args.turns, Path(work)))
    print(f"# device-measured latency, {platform.node()}, {os.cpu_count()} CPUs, {args.turns} turns per path")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
