"""Benchmark the satellite's audio frontend: cost per 30 ms frame and idle-listening CPU.

Per frame: our high-pass + soft gate + WebRTC VAD (targets: <= 50 µs per frame on this
machine), each stage alone, the optional speex / wake word, and the peer: the seed's
per-chunk FFT bin zeroing + the same VAD. Idle CPU: a real `nexus-satellite ha` process
listening to a paced 16 kHz microphone command of room noise, sampled with psutil
(target < 5 % of one core).

Run from the repo root:  .venv/bin/python bench/frontend.py [--frames 20000] [--idle-s 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from satellite.dsp import HighPass, SoftGate, make_speex  # noqa: E402
from satellite.frontend import Frontend  # noqa: E402
from satellite.settings import FrontendSettings  # noqa: E402
from satellite.vad import FRAME_BYTES, FRAME_SAMPLES, WebRtcVad  # noqa: E402

TARGET_FRAME_US = 50.0
TARGET_IDLE_CPU = 5.0


def test_audio(seconds: float) -> np.ndarray:
    """Piper speech between room noise, repeated: frames of every kind the frontend meets."""
    from tests.satellite.speech import noise, spoken

    speech = spoken("Turn on the kitchen lights, please. What is the weather like tomorrow?")
    block = np.concatenate([noise(1.0, 0.004), speech + noise(len(speech) / 16000, 0.004, seed=2)])
    reps = int(np.ceil(seconds * 16000 / len(block)))
    return np.tile(block, reps)[: int(seconds * 16000)]


def frames_of(samples: np.ndarray) -> list[bytes]:
    pcm = np.clip(samples * 32767, -32768, 32767).astype("<i2").tobytes()
    return [pcm[i:i + FRAME_BYTES] for i in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES)]


def time_per_frame(step: Callable[[bytes], object], frames: list[bytes], count: int) -> dict:
    """Mean / median / p99 µs of `step` over `count` frames, timed in batches of 100."""
    for frame in frames[:200]:
        step(frame)  # warm up
    batches = []
    done = 0
    while done < count:
        batch = [frames[(done + i) % len(frames)] for i in range(100)]
        start = time.perf_counter()
        for frame in batch:
            step(frame)
        batches.append((time.perf_counter() - start) / len(batch) * 1e6)
        done += len(batch)
    batches.sort()
    return {"mean_us": statistics.fmean(batches), "median_us": batches[len(batches) // 2],
            "p99_us": batches[min(len(batches) - 1, int(len(batches) * 0.99))]}


def seed_fft_step(vad: WebRtcVad) -> Callable[[bytes], object]:
    """The peer: the seed's high-pass (zero FFT bins under 200 Hz per chunk) + gate by scaling + VAD."""
    cutoff_bin = int(200 * FRAME_SAMPLES / 16000)

    def step(frame: bytes) -> bool:
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float64) / 32768.0
        spectrum = np.fft.rfft(samples)
        spectrum[:cutoff_bin + 1] = 0
        samples = np.fft.irfft(spectrum, n=len(samples))
        if np.sqrt(np.mean(samples ** 2)) < 0.008:
            samples = samples * 0.2
        clean = np.clip(samples * 32768, -32768, 32767).astype("<i2").tobytes()
        return vad.is_speech(clean, samples)

    return step


def frame_rows(frames: list[bytes], count: int) -> list[dict]:
    rows = []
    ours = Frontend(FrontendSettings())
    rows.append({"case": "ours: high-pass + gate + WebRTC VAD", **time_per_frame(ours.process_frame, frames, count),
                 "target_us": TARGET_FRAME_US})
    floats = [np.frombuffer(f, dtype="<i2").astype(np.float64) / 32768.0 for f in frames]
    highpass, gate, vad = HighPass(200.0), SoftGate(), WebRtcVad(1)
    index = {id(f): i for i, f in enumerate(frames)}
    rows.append({"case": "  high-pass alone", **time_per_frame(lambda f: highpass.process(floats[index[id(f)]]), frames, count)})
    rows.append({"case": "  soft gate alone", **time_per_frame(lambda f: gate.process(floats[index[id(f)]]), frames, count)})
    rows.append({"case": "  WebRTC VAD alone", **time_per_frame(lambda f: vad.is_speech(f, None), frames, count)})
    speex = Frontend(FrontendSettings(), speex=make_speex(True, -30, 0))
    rows.append({"case": "ours + speex noise suppression", **time_per_frame(speex.process_frame, frames, count)})
    with_wake = Frontend.from_settings(FrontendSettings(wake_word="okay_nabu"))
    rows.append({"case": "ours + wake word (okay_nabu)", **time_per_frame(with_wake.push_frame, frames, count)})
    rows.append({"case": "peer: seed FFT bin zeroing + gate + WebRTC VAD",
                 **time_per_frame(seed_fft_step(WebRtcVad(1)), frames, count)})
    return rows


def idle_cpu(seconds: float, extra: list[str]) -> dict:
    """CPU % of one core used by a real HA-mode satellite listening to room noise."""
    import psutil

    from tests.satellite.speech import noise, write_wav

    with tempfile.TemporaryDirectory() as tmp:
        wav = write_wav(Path(tmp) / "room.wav", noise(1.0, 0.004))
        mic = f"{sys.executable} {REPO / 'tests/satellite/paced_mic.py'} --wav {wav}"
        proc = subprocess.Popen([sys.executable, "-m", "satellite", "ha", "--uri", "tcp://127.0.0.1:0",
                                 "--no-zeroconf", "--data-dir", tmp, "--mic-command", mic, *extra],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            handle = psutil.Process(proc.pid)
            time.sleep(5.0)  # imports, model loads
            before, start = handle.cpu_times(), time.monotonic()
            time.sleep(seconds)
            after, wall = handle.cpu_times(), time.monotonic() - start
        finally:
            proc.terminate()
            proc.wait(10)
    used = (after.user - before.user) + (after.system - before.system)
    return {"cpu_percent_of_one_core": 100.0 * used / wall, "seconds": wall}


def markdown(report: dict) -> str:
    lines = [f"Frontend per 30 ms frame ({report['frames']} frames, {report['machine']})", "",
             "| case | mean µs | median µs | p99 µs |", "| --- | ---: | ---: | ---: |"]
    for row in report["per_frame"]:
        lines.append(f"| {row['case']} | {row['mean_us']:.1f} | {row['median_us']:.1f} | {row['p99_us']:.1f} |")
    lines += ["", "| idle listening (real `nexus-satellite ha` process) | CPU % of one core |", "| --- | ---: |"]
    for row in report["idle"]:
        lines.append(f"| {row['case']} | {row['cpu_percent_of_one_core']:.2f} |")
    ours = report["per_frame"][0]["mean_us"]
    idle = report["idle"][0]["cpu_percent_of_one_core"]
    lines += ["", f"Targets: <= {TARGET_FRAME_US:.0f} µs per frame ({'met' if ours <= TARGET_FRAME_US else 'MISSED'}), "
              f"< {TARGET_IDLE_CPU:.0f} % idle CPU ({'met' if idle < TARGET_IDLE_CPU else 'MISSED'})."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000, help="frames timed per case")
    parser.add_argument("--idle-s", type=float, default=20.0, help="seconds of idle listening measured")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    frames = frames_of(test_audio(30.0))
    report = {
        "machine": f"{platform.machine()}, {platform.processor() or platform.system()}, python {platform.python_version()}",
        "frames": args.frames,
        "per_frame": frame_rows(frames, args.frames),
        "idle": [{"case": "every speech starts a turn (--no-wake-word)", **idle_cpu(args.idle_s, ["--no-wake-word"])},
                 {"case": "wake word okay_nabu (default)", **idle_cpu(args.idle_s, [])}],
    }
    print(markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
