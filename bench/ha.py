"""Speech end → `stt-end` through a real Home Assistant 2025.4.4: our STT vs wyoming-faster-whisper
3.8.1 on the same Whisper base weights, and how often our early decode was ready at HA's `audio-stop`.

HA runs from the tests' cached venv (tests/support/homeassistant.py); both servers are added by
the Wyoming config flow and each gets an stt-only pipeline. Each corpus command (bench/corpus.py)
is sent over HA's websocket at real-time pace after 0.5 s of silence, then silence until HA's VAD
ends it; servers alternate per utterance. Times use HA's own event timestamps (wall clock, the
same machine): speech end = when the last speech sample was sent; `stt-vad-end` is when HA
stopped the audio (it sends `audio-stop` then). Our server's per-transcript log line says whether
the early decode was used and how long before `audio-stop` it was ready.

Run from the repo root:  .venv/bin/python bench/ha.py [--reps 3] [--limit N] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
import wave
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
try:
    from . import corpus, peers
    from .stt import ours_process, peer_model_dir
    from .tts import machine_line
    from .wer import normalize
except ImportError:  # run as a script: python bench/ha.py
    import corpus
    import peers
    from stt import ours_process, peer_model_dir
    from tts import machine_line
    from wer import normalize

from tests.ha.assist import FRAME, RATE, create_pipeline  # noqa: E402
from tests.ha.flows import add_wyoming  # noqa: E402
from tests.ha.websocket import HaSocket  # noqa: E402
from tests.support.homeassistant import HomeAssistant  # noqa: E402

LEAD_S, TRAIL_S = 0.5, 2.5


def when(event: dict) -> float:
    """An HA pipeline event's own timestamp, as epoch seconds."""
    return datetime.datetime.fromisoformat(event["timestamp"]).timestamp()


async def one_run(ws: HaSocket, pipeline: str, pcm: bytes) -> dict:
    """One utterance through HA (stt only): speech end, HA's VAD end and stt-end, epoch seconds."""
    queue = await ws.subscribe("assist_pipeline/run", start_stage="stt", end_stage="stt", pipeline=pipeline,
                               input={"sample_rate": RATE}, timeout=60)
    events: list[dict] = []
    while not events or events[-1]["type"] != "run-start":
        events.append(await asyncio.wait_for(queue.get(), 30))
    handler = bytes([events[0]["data"]["runner_data"]["stt_binary_handler_id"]])
    lead, trail = bytes(int(LEAD_S * RATE) * 2), bytes(int(TRAIL_S * RATE) * 2)
    audio = lead + pcm + trail
    speech_end_offset = len(lead) + len(pcm)
    speech_end = None
    started = time.monotonic()
    for offset in range(0, len(audio), FRAME):
        while not queue.empty():
            events.append(queue.get_nowait())
        if any(e["type"] in ("stt-vad-end", "stt-end", "error") for e in events):
            break
        await ws.send_bytes(handler + audio[offset:offset + FRAME])
        if speech_end is None and offset + FRAME >= speech_end_offset:
            speech_end = time.time() - (offset + FRAME - speech_end_offset) / (RATE * 2)
        await asyncio.sleep(max(0.0, started + (offset + FRAME) / (RATE * 2) - time.monotonic()))
    await ws.send_bytes(handler)
    while events[-1]["type"] not in ("run-end", "error"):
        events.append(await asyncio.wait_for(queue.get(), 60))
    by_type = {e["type"]: e for e in events}
    if "stt-end" not in by_type:
        return {"error": json.dumps(by_type.get("error", events[-1]))[:300]}
    return {"speech_end": speech_end, "vad_end": when(by_type["stt-vad-end"]) if "stt-vad-end" in by_type else None,
            "stt_end": when(by_type["stt-end"]), "text": by_type["stt-end"]["data"]["stt_output"]["text"],
            "load": os.getloadavg()[0]}


def our_lines(log: Path, seen: int) -> tuple[list[dict], int]:
    """Our STT's per-transcript JSON log lines after the first `seen`."""
    lines = []
    for line in log.read_text(errors="replace").splitlines():
        if '"request": "stt"' in line and "{" in line:
            lines.append(json.loads(line[line.index("{"):]))
    return lines[seen:], len(lines)


async def new_lines(log: Path, seen: int, timeout: float = 3.0) -> tuple[list[dict], int]:
    """The transcript's log line: it is written just after the transcript is sent."""
    deadline = time.monotonic() + timeout
    while True:
        lines, count = our_lines(log, seen)
        if lines or time.monotonic() > deadline:
            return lines, count
        await asyncio.sleep(0.05)


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f}" if values else "-"


def p95_ms(values: list[float]) -> str:
    return f"{sorted(values)[max(0, int(len(values) * 0.95 + 0.5) - 1)] * 1000:.0f}" if values else "-"


async def amain(args: argparse.Namespace) -> None:
    utts = corpus.build()[: args.limit or None]
    ha = HomeAssistant(Path(tempfile.mkdtemp(prefix="bench-ha-")), zeroconf=False)
    await asyncio.to_thread(ha.start)
    results: dict[str, list[dict]] = {"ours": [], "peer": []}
    try:
        async with AsyncExitStack() as stack:
            env = {"NEXUS_STT__ENGINES": "[whisper]", "NEXUS_STT__WHISPER__THREADS": str(args.threads)}
            ours = await stack.enter_async_context(ours_process(args.ours_data_dir, env))
            peer = await stack.enter_async_context(
                peers.wyoming_faster_whisper(peer_model_dir(args.ours_data_dir), threads=args.threads))
            ws = await HaSocket.open(ha.ws_url, ha.token)
            stack.push_async_callback(ws.close)
            pipelines = {}
            for label, server in (("ours", ours), ("peer", peer)):
                _, entity = await asyncio.to_thread(add_wyoming, ha, server.host, server.port, "stt")
                pipelines[label] = await create_pipeline(ws, f"bench {label}", entity, "conversation.home_assistant",
                                                         None)
            seen = our_lines(ours.log_path, 0)[1]
            for rep in range(args.reps + 1):  # rep 0 warms both up and is not counted
                for index, utt in enumerate(utts):
                    pcm = corpus_pcm(utt)
                    order = ("ours", "peer") if (rep + index) % 2 == 0 else ("peer", "ours")
                    for label in order:
                        outcome = await one_run(ws, pipelines[label], pcm)
                        outcome.update(utt=utt.name, ref=utt.text, rep=rep)
                        if label == "ours":
                            lines, seen = await new_lines(ours.log_path, seen)
                            outcome["server"] = lines[-1] if lines else None
                        if rep:
                            results[label].append(outcome)
                        print(f"[bench] rep {rep} {label} {utt.name}: {brief(outcome)}", file=sys.stderr)
    finally:
        ha.stop()
    print(render(results, utts, args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def corpus_pcm(utt: corpus.Utterance) -> bytes:
    with wave.open(str(utt.path), "rb") as wav:
        return wav.readframes(wav.getnframes())


def brief(outcome: dict) -> str:
    if "error" in outcome:
        return outcome["error"]
    return (f"speech end → stt-end {outcome['stt_end'] - outcome['speech_end']:.2f} s, "
            f"vad-end → stt-end {outcome['stt_end'] - (outcome['vad_end'] or outcome['stt_end']):.2f} s, "
            f"{outcome['text']!r}")


def render(results: dict[str, list[dict]], utts: list, args: argparse.Namespace) -> str:
    lines = [f"# STT through Home Assistant 2025.4.4\n\n{machine_line()}\n",
             f"- {len(utts)} Piper-spoken commands x {args.reps} reps per server, alternated; {LEAD_S} s lead, "
             f"real-time 64 ms frames over HA's websocket until HA's VAD ends; Whisper base int8, "
             f"{args.threads} threads each; times from HA's pipeline event timestamps\n",
             "| server | n | speech end → stt-end median / p95 ms | HA VAD end (audio-stop) → stt-end median / p95 ms "
             "| speech end → VAD end median ms | wrong transcripts | load avg (1 min) |",
             "|---|---|---|---|---|---|---|"]
    for label, outs in results.items():
        ok = [o for o in outs if "error" not in o]
        total = [o["stt_end"] - o["speech_end"] for o in ok]
        after_vad = [o["stt_end"] - o["vad_end"] for o in ok if o["vad_end"]]
        vad = [o["vad_end"] - o["speech_end"] for o in ok if o["vad_end"]]
        wrong = sum(normalize(o["text"]) != normalize(o["ref"]) for o in ok)
        loads = [o["load"] for o in ok]
        lines.append(f"| {label} | {len(ok)} (+{len(outs) - len(ok)} errors) | {median_ms(total)} / {p95_ms(total)} "
                     f"| {median_ms(after_vad)} / {p95_ms(after_vad)} | {median_ms(vad)} | {wrong} "
                     f"| {min(loads, default=0):.2f}–{max(loads, default=0):.2f} |")
    ours = [o["server"] for o in results["ours"] if o.get("server")]
    ready = [s for s in ours if s.get("early") and (s.get("early_ready_before_stop_ms") or -1) >= 0]
    used = [s for s in ours if s.get("early")]
    lines.append(f"\nOur early decode: used for {len(used)} of {len(ours)} transcripts, already finished when "
                 f"HA's audio-stop arrived for {len(ready)} of {len(ours)}; our final_ms (audio-stop → transcript) "
                 f"median {statistics.median([s['final_ms'] for s in ours if s.get('final_ms') is not None] or [0]):.0f}"
                 f" ms; early decodes per utterance "
                 f"{statistics.mean([s.get('early_decodes') or 0 for s in ours] or [0]):.1f}.")
    return "\n".join(lines)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3, help="measured repetitions per utterance and server")
    p.add_argument("--limit", type=int, default=0, help="use only the first N utterances")
    p.add_argument("--threads", type=int, default=2, help="Whisper CPU threads for both servers")
    p.add_argument("--ours-data-dir", type=Path, default=peers.BENCH_DIR / "ours-stt-data")
    p.add_argument("--json", metavar="FILE", help="write raw per-run figures here")
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(amain(parse_args()))
