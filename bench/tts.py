"""Benchmark our Wyoming TTS server against wyoming-piper 2.5.2, side by side, over TCP.

Run from the repo root:  .venv/bin/python bench/tts.py [--reps 20] [--peer-only] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

try:
    from . import peers
    from ._wyoming_client import TtsResult, describe, synthesize, synthesize_streaming
except ImportError:  # run as a script: python bench/tts.py
    import peers
    from _wyoming_client import TtsResult, describe, synthesize, synthesize_streaming

SENTENCE = "Turn on the kitchen lights."
PARAGRAPH = (
    "The weather today will be mostly sunny with a light breeze from the west, and it "
    "should reach the low seventies by mid afternoon. Tonight, clouds will roll in from "
    "the coast with a small chance of rain after midnight. Tomorrow will be cooler and "
    "wetter, so remember to take an umbrella."
)
REQUEST_TIMEOUT_S = 120.0
Outcome = Union[TtsResult, str]  # a result, or the error message of a failed request


@dataclass(frozen=True)
class Case:
    """One kind of request: which text, and whether it is streamed word by word."""

    label: str
    text: str
    streaming: bool = False
    word_delay_s: float = 0.0


@dataclass
class Server:
    """A server under test: a label, its URI once known, and what `describe` said."""

    label: str
    uri: str = ""
    program: str = "?"
    streaming: bool = False


def build_cases(word_delay_ms: float) -> list[Case]:
    """The cases (a)-(d), plus delayed-word streaming variants when a delay is asked for."""
    cases = [
        Case("sentence, synthesize", SENTENCE),
        Case("paragraph, synthesize", PARAGRAPH),
        Case("paragraph, streaming", PARAGRAPH, streaming=True),
        Case("sentence, streaming", SENTENCE, streaming=True),
    ]
    if word_delay_ms > 0:
        tag = f"streaming {word_delay_ms:g} ms/word"
        cases += [
            Case(f"paragraph, {tag}", PARAGRAPH, True, word_delay_ms / 1000),
            Case(f"sentence, {tag}", SENTENCE, True, word_delay_ms / 1000),
        ]
    return cases


async def run_one(server: Server, case: Case, voice: Optional[str]) -> Outcome:
    """Run one request on a fresh connection; return its result or an error string."""
    try:
        if case.streaming:
            coro = synthesize_streaming(server.uri, case.text, case.word_delay_s, voice)
        else:
            coro = synthesize(server.uri, case.text, voice)
        result = await asyncio.wait_for(coro, REQUEST_TIMEOUT_S)
    except Exception as err:  # noqa: BLE001 - a failed request is data, not a crash
        return f"{type(err).__name__}: {err}"
    if result.audio_bytes <= 0 or not result.rate:
        return f"no audio (bytes={result.audio_bytes}, rate={result.rate})"
    return result


async def run_bench(
    servers: list[Server], cases: list[Case], reps: int, warmup: int, voice: Optional[str]
) -> dict[str, dict[str, list[Outcome]]]:
    """Warm up, then run every case `reps` times, alternating servers within each repetition."""
    results: dict[str, dict[str, list[Outcome]]] = {
        c.label: {s.label: [] for s in servers} for c in cases
    }
    for rep in range(warmup + reps):
        for case in cases:
            for server in servers:
                if case.streaming and not server.streaming:
                    continue
                outcome = await run_one(server, case, voice)
                if rep >= warmup:
                    results[case.label][server.label].append(outcome)
                elif isinstance(outcome, str):
                    print(f"[warm-up] {server.label} {case.label}: {outcome}", file=sys.stderr)
        done = "warm-up" if rep < warmup else f"rep {rep - warmup + 1}/{reps}"
        print(f"[bench] {done} done", file=sys.stderr)
    return results


def percentile_ms(values: list[float], q: int) -> float:
    """The q-th percentile (inclusive method) of seconds `values`, in ms."""
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def summarize(outcomes: list[Outcome], attr: str) -> Optional[dict[str, float]]:
    """Median and p95 (ms) of one timing over the successful requests, or None."""
    values = [getattr(o, attr) for o in outcomes if isinstance(o, TtsResult)]
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median_ms": statistics.median(values) * 1000, "p95_ms": percentile_ms(values, 95)}


def render(
    servers: list[Server], cases: list[Case], results: dict[str, dict[str, list[Outcome]]]
) -> str:
    """Markdown tables: latency per case and metric, then audio sanity per case."""
    labels = [s.label for s in servers]
    ratio = len(labels) == 2
    head = ["case"] + [f"{lab} {m}" for lab in labels for m in ("median ms", "p95 ms")]
    head += [f"{labels[0]}/{labels[1]} (median)"] if ratio else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    metrics = (("first audio-chunk", "first_audio_s"), ("done", "done_s"))
    for case in cases:
        for metric, attr in metrics:
            end = "synthesize-stopped" if case.streaming else "audio-stop"
            row = [f"{case.label}: {metric if attr == 'first_audio_s' else end}"]
            stats = []
            for server in servers:
                outcomes = results[case.label][server.label]
                failed = sum(isinstance(o, str) for o in outcomes)
                s = summarize(outcomes, attr)
                stats.append(s)
                if case.streaming and not server.streaming:
                    row += ["n/a", "n/a"]
                elif s is None:
                    row += [f"failed ({failed})", ""]
                else:
                    note = f" ({failed} failed)" if failed else ""
                    row += [f"{s['median_ms']:.1f}{note}", f"{s['p95_ms']:.1f}"]
            if ratio:
                a, b = stats
                row.append(f"{a['median_ms'] / b['median_ms']:.2f}" if a and b else "n/a")
            lines.append("| " + " | ".join(row) + " |")
    lines += ["", "| case | " + " | ".join(f"{lab} audio" for lab in labels) + " |"]
    lines.append("|" + "---|" * (len(labels) + 1))
    for case in cases:
        row = [case.label]
        for server in servers:
            ok = [o for o in results[case.label][server.label] if isinstance(o, TtsResult)]
            if not ok:
                row.append("n/a")
                continue
            secs = statistics.median(o.audio_seconds for o in ok)
            starts = statistics.median(o.audio_starts for o in ok)
            row.append(f"{secs:.2f} s @ {ok[0].rate} Hz, {starts:g} audio-start")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def machine_line() -> str:
    """CPU count and model, Python version, and the date."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    return f"{now} | {os.cpu_count()} CPUs ({model}) | Python {platform.python_version()}"


def ours_process(data_dir: str) -> peers.PeerProcess:
    """Our TTS server from the repo venv on an OS-chosen port (parsed from its log)."""
    exe = peers.REPO / ".venv" / "bin" / "nexus-wyoming"
    if not exe.exists():
        sys.exit(f"{exe} not found: install the project, or use --ours-uri / --peer-only")
    argv = [str(exe), "tts", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", data_dir]
    return peers.PeerProcess(argv, None, name="ours")


async def amain(args: argparse.Namespace) -> None:
    """Start (or attach to) the servers, run the benchmark, print and save the results."""
    async with AsyncExitStack() as stack:
        servers: list[Server] = []
        if not args.peer_only:
            uri = args.ours_uri
            if not uri:
                data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="nexus-bench-"))
                uri = (await stack.enter_async_context(ours_process(data_dir))).uri
            servers.append(Server("ours", uri))
        uri = args.peer_uri or (await stack.enter_async_context(peers.wyoming_piper())).uri
        servers.append(Server("peer", uri))
        for server in servers:
            program = (await describe(server.uri)).tts[0]
            server.program = f"{program.name} {program.version or ''}".strip()
            server.streaming = bool(program.supports_synthesize_streaming)
        cases = build_cases(args.word_delay_ms)
        results = await run_bench(servers, cases, args.reps, args.warmup, args.voice)

    print(f"# TTS benchmark\n\n{machine_line()}")
    for s in servers:
        print(f"- {s.label}: {s.program} at {s.uri}, streaming={'yes' if s.streaming else 'no'}")
    print(f"- {args.reps} reps after {args.warmup} warm-up, servers alternated; "
          f"ms from the first text event sent\n")
    print(render(servers, cases, results))
    if args.json:
        raw = {
            "machine": machine_line(),
            "args": vars(args),
            "servers": [vars(s) for s in servers],
            "cases": {c.label: {"text": c.text, "streaming": c.streaming,
                                "word_delay_s": c.word_delay_s} for c in cases},
            "results": {case: {srv: [o.to_dict() if isinstance(o, TtsResult) else {"error": o}
                                     for o in outs] for srv, outs in by_srv.items()}
                        for case, by_srv in results.items()},
        }
        Path(args.json).write_text(json.dumps(raw, indent=1))


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=20, help="measured repetitions per case")
    p.add_argument("--warmup", type=int, default=2, help="uncounted warm-up rounds")
    p.add_argument("--word-delay-ms", type=float, default=0.0,
                   help="also run the streaming cases with this pause between words")
    p.add_argument("--ours-uri", help="use our server already running at tcp://HOST:PORT")
    p.add_argument("--peer-uri", help="use a wyoming-piper already running at tcp://HOST:PORT")
    p.add_argument("--peer-only", action="store_true", help="benchmark the peer alone")
    p.add_argument("--voice", help="voice name to request (default: each server's default)")
    p.add_argument("--json", metavar="FILE", help="write raw per-request figures here")
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(amain(parse_args()))
