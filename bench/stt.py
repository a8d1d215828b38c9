"""Benchmark our Wyoming STT server against wyoming-faster-whisper 3.8.1, side by side, over TCP.

Each utterance of the spoken-command corpus (bench/corpus.py) is streamed in real time,
as Home Assistant does: `transcribe` (en), `audio-start`, 100 ms `audio-chunk`s, 0.7 s of
silence, `audio-stop`, on a fresh connection; servers alternate per utterance.

Run from the repo root:
  .venv/bin/python bench/stt.py [--reps 10] [--limit N] [--concurrency 2] [--peer-only] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Union

try:
    from . import corpus, peers
    from ._wyoming_client import SttResult, describe, transcribe_realtime
    from .tts import machine_line, percentile_ms
    from .wer import WerCount, normalize
except ImportError:  # run as a script: python bench/stt.py
    import corpus
    import peers
    from _wyoming_client import SttResult, describe, transcribe_realtime
    from tts import machine_line, percentile_ms
    from wer import WerCount, normalize

REQUEST_TIMEOUT_S = 120.0
OURS_DATA_DIR = peers.BENCH_DIR / "ours-stt-data"
Outcome = Union[SttResult, str]  # a result, or the error message of a failed request
Results = dict[str, dict[str, list[Outcome]]]  # server label → utterance name → outcomes


@dataclass
class Server:
    """A server under test: a label, its URI once known, and what `describe` said."""

    label: str
    uri: str = ""
    program: str = "?"
    streaming: bool = False
    external_vad: bool = True


async def run_one(server: Server, utt: corpus.Utterance, pcm: bytes, silence_s: float) -> Outcome:
    """Stream one utterance on a fresh connection; return its result or an error string."""
    try:
        result = await asyncio.wait_for(
            transcribe_realtime(server.uri, pcm, "en", 0.1, silence_s), REQUEST_TIMEOUT_S
        )
    except Exception as err:  # noqa: BLE001 - a failed request is data, not a crash
        return f"{type(err).__name__}: {err}"
    if result.text is None:
        return "no transcript"
    return result


async def run_bench(
    servers: list[Server], utts: list[corpus.Utterance], args: argparse.Namespace
) -> Results:
    """Warm up, then stream each utterance `reps` times, alternating servers (and who goes first).

    With concurrency N, N clients stream the same utterance to one server at the same instant.
    """
    results: Results = {s.label: {u.name: [] for u in utts} for s in servers}
    pcms = {u.name: u.pcm() for u in utts}
    for server in servers:
        for outcome in await asyncio.gather(
            *(run_one(server, utts[0], pcms[utts[0].name], args.silence_s) for _ in range(args.concurrency))
        ):
            if isinstance(outcome, str):
                print(f"[warm-up] {server.label}: {outcome}", file=sys.stderr)
    total = args.reps * len(utts)
    for rep in range(args.reps):
        for i, utt in enumerate(utts):
            for server in servers[:: 1 if (rep + i) % 2 == 0 else -1]:
                outcomes = await asyncio.gather(
                    *(run_one(server, utt, pcms[utt.name], args.silence_s) for _ in range(args.concurrency))
                )
                results[server.label][utt.name] += outcomes
            done = rep * len(utts) + i + 1
            print(f"[bench] rep {rep + 1}/{args.reps} {done}/{total} {utt.name}: "
                  + ", ".join(_brief(results[s.label][utt.name][-1]) for s in servers),
                  file=sys.stderr)
    return results


def _brief(outcome: Outcome) -> str:
    """One progress-line fragment: latency and text, or the error."""
    if isinstance(outcome, str):
        return f"FAILED {outcome}"
    return f"{(outcome.stop_to_transcript_s or 0) * 1000:.0f} ms {outcome.text!r}"


def stats_ms(values: list[float]) -> Optional[tuple[float, float]]:
    """(median, p95) in ms of seconds `values`, or None when there are none."""
    if not values:
        return None
    return statistics.median(values) * 1000, percentile_ms(values, 95)


def collect(outcomes: list[Outcome], pick: Callable[[SttResult], Optional[float]]) -> list[float]:
    """One timing from the successful results (None values skipped)."""
    values = [pick(o) for o in outcomes if isinstance(o, SttResult)]
    return [v for v in values if v is not None]


def latency(result: SttResult) -> Optional[float]:
    """audio-stop → transcript as Home Assistant sees it: an early transcript counts as 0."""
    value = result.stop_to_transcript_s
    return None if value is None else max(0.0, value)


def wer_of(utts: list[corpus.Utterance], by_utt: dict[str, list[Outcome]]) -> WerCount:
    """Corpus WER over every successful transcript of one server."""
    count = WerCount()
    for utt in utts:
        for outcome in by_utt[utt.name]:
            if isinstance(outcome, SttResult):
                count.add(utt.text, outcome.text or "")
    return count


def render(servers: list[Server], utts: list[corpus.Utterance], results: Results) -> str:
    """Markdown: latency per utterance and pooled, first partial, WER; then misrecognitions."""
    labels = [s.label for s in servers]
    ratio = len(labels) == 2
    head = ["case"] + [f"{lab} {m}" for lab in labels for m in ("median ms", "p95 ms")]
    head += [f"{labels[0]}/{labels[1]}"] if ratio else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def row(label: str, pick: Callable[[SttResult], Optional[float]], names: list[str]) -> None:
        cells, medians = [label], []
        for lab in labels:
            outcomes = [o for name in names for o in results[lab][name]]
            failed = sum(isinstance(o, str) for o in outcomes)
            st = stats_ms(collect(outcomes, pick))
            medians.append(st[0] if st else None)
            note = f" ({failed} failed)" if failed else ""
            cells += [f"{st[0]:.0f}{note}", f"{st[1]:.0f}"] if st else [f"none{note}", ""]
        if ratio:
            a, b = medians
            cells.append(f"{a / b:.2f}" if a is not None and b else "n/a")
        lines.append("| " + " | ".join(cells) + " |")

    for utt in utts:
        row(f"{utt.text} ({utt.seconds:.1f} s)", latency, [utt.name])
    every = [u.name for u in utts]
    row("**all utterances: audio-stop → transcript**", latency, every)
    row("first audio-chunk → first transcript-chunk", lambda r: r.first_partial_s, every)
    wers = [wer_of(utts, results[lab]) for lab in labels]
    cells = ["**WER** (exact / utterances)"]
    for lab, w in zip(labels, wers):
        failed = sum(isinstance(o, str) for outs in results[lab].values() for o in outs)
        note = f" ({failed} failed, not scored)" if failed else ""
        cells += [f"{w.rate * 100:.1f}%{note}" if w.words else f"n/a{note}",
                  f"{w.exact}/{w.utterances}"]
    if ratio:
        cells.append(f"{wers[0].rate / wers[1].rate:.2f}" if wers[0].words and wers[1].rate else "n/a")
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", misrecognitions(labels, utts, results)])


def misrecognitions(labels: list[str], utts: list[corpus.Utterance], results: Results) -> str:
    """Each server's distinct wrong transcripts (after normalisation), with counts."""
    lines = ["| reference | " + " | ".join(f"{lab} wrong (count)" for lab in labels) + " |",
             "|" + "---|" * (len(labels) + 1)]
    for utt in utts:
        ref = normalize(utt.text)
        cells, any_wrong = [utt.text], False
        for lab in labels:
            wrong: dict[str, int] = {}
            for o in results[lab][utt.name]:
                if isinstance(o, SttResult) and normalize(o.text or "") != ref:
                    wrong[(o.text or "").strip()] = wrong.get((o.text or "").strip(), 0) + 1
            any_wrong |= bool(wrong)
            cells.append("; ".join(f"{t!r} ({n})" for t, n in wrong.items()) or "-")
        if any_wrong:
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) if len(lines) > 2 else "No misrecognitions."


def ours_process(data_dir: Path, env: dict[str, str]) -> peers.PeerProcess:
    """Our STT server from the repo venv on an OS-chosen port (parsed from its log)."""
    exe = peers.REPO / ".venv" / "bin" / "nexus-wyoming"
    if not exe.exists():
        sys.exit(f"{exe} not found: install the project, or use --ours-uri / --peer-only")
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [str(exe), "stt", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", str(data_dir)]
    return peers.PeerProcess(argv, None, name="ours-stt", env=env)


def peer_model_dir(ours_data_dir: Path) -> Path:
    """The model dir our server assembled, when there is one, else one assembled here."""
    ours = ours_data_dir / "models" / "whisper-base"
    if (ours / "model.bin").exists():
        return ours
    return peers.assemble_whisper_base(peers.whisper_venv())


async def start_servers(stack: AsyncExitStack, args: argparse.Namespace) -> tuple[list[Server], Path]:
    """Start (or attach to) ours, then the peer on the same weights; ask both for `info`.

    Ours runs local Whisper only (no Deepgram even if a key is set) with the peer's thread count.
    """
    servers: list[Server] = []
    if not args.peer_only:
        uri = args.ours_uri
        if not uri:
            env = {"NEXUS_STT__ENGINES": "[whisper]",
                   "NEXUS_STT__WHISPER__THREADS": str(args.peer_threads)}
            env.update(item.split("=", 1) for item in args.ours_env)
            ours = ours_process(args.ours_data_dir, env)
            uri = (await stack.enter_async_context(ours)).uri
        servers.append(Server("ours", uri))
    model_dir = peer_model_dir(args.ours_data_dir)
    if args.peer_uri:
        uri = args.peer_uri
    else:
        extra = ("--vad-endpointing", str(args.peer_vad_endpointing)) if args.peer_vad_endpointing else ()
        peer = peers.wyoming_faster_whisper(model_dir, threads=args.peer_threads, extra_args=extra)
        uri = (await stack.enter_async_context(peer)).uri
    servers.append(Server("peer", uri))
    for server in servers:
        program = (await describe(server.uri)).asr[0]
        server.program = f"{program.name} {program.version or ''}".strip()
        server.streaming = bool(program.supports_transcript_streaming)
        server.external_vad = bool(program.requires_external_vad)
    return servers, model_dir


async def amain(args: argparse.Namespace) -> None:
    """Build the corpus, start the servers, run the benchmark, print and save the results."""
    utts = corpus.build()[: args.limit or None]
    async with AsyncExitStack() as stack:
        servers, model_dir = await start_servers(stack, args)
        minutes = args.reps * len(servers) * sum(u.seconds + args.silence_s + 0.8 for u in utts) / 60
        print(f"[bench] {len(utts)} utterances x {args.reps} reps x {len(servers)} servers, "
              f"about {minutes:.0f} min", file=sys.stderr)
        results = await run_bench(servers, utts, args)

    model_sha = peers.file_sha256(model_dir / "model.bin")
    print(f"# STT benchmark\n\n{machine_line()}")
    for s in servers:
        print(f"- {s.label}: {s.program} at {s.uri}, transcript streaming="
              f"{'yes' if s.streaming else 'no'}, requires_external_vad={s.external_vad}")
    origin = "assembled by ours, " if model_dir.is_relative_to(args.ours_data_dir) else ""
    print(f"- peer model: {model_dir} ({origin}model.bin sha256 {model_sha[:16]}), int8, "
          f"{args.peer_threads} CPU threads, beam 1, language en, vad-endpointing "
          f"{args.peer_vad_endpointing or 'off'}")
    print(f"- {len(utts)} Piper-spoken commands ({sum(u.seconds for u in utts):.1f} s) x "
          f"{args.reps} reps, concurrency {args.concurrency}, servers alternated per utterance; "
          f"real time 100 ms chunks + {args.silence_s:g} s silence; ms from audio-stop "
          "(a transcript before audio-stop counts 0)\n")
    print(render(servers, utts, results))
    if args.json:
        raw = {
            "machine": machine_line(),
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "servers": [vars(s) for s in servers],
            "model": {"dir": str(model_dir), "sha256": model_sha},
            "corpus": [{"name": u.name, "text": u.text, "seconds": u.seconds} for u in utts],
            "results": {srv: {name: [o.to_dict() if isinstance(o, SttResult) else {"error": o}
                                     for o in outs] for name, outs in by_utt.items()}
                        for srv, by_utt in results.items()},
        }
        Path(args.json).write_text(json.dumps(raw, indent=1))


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=10, help="measured repetitions per utterance")
    p.add_argument("--limit", type=int, default=0, help="use only the first N utterances")
    p.add_argument("--concurrency", type=int, default=1,
                   help="clients streaming the same utterance to one server at once")
    p.add_argument("--silence-s", type=float, default=0.7, help="trailing silence streamed")
    p.add_argument("--peer-threads", type=int, default=2, help="peer --cpu-threads")
    p.add_argument("--peer-vad-endpointing", type=float, metavar="SECONDS",
                   help="let the peer end the utterance itself after this much VAD silence "
                        "(its own server-side endpointing; off by default, as in the issue)")
    p.add_argument("--ours-uri", help="use our server already running at tcp://HOST:PORT")
    p.add_argument("--ours-data-dir", type=Path, default=OURS_DATA_DIR,
                   help="our server's --data-dir (kept, so its model is assembled once)")
    p.add_argument("--ours-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for our server (wins over the defaults "
                        "NEXUS_STT__ENGINES=[whisper], NEXUS_STT__WHISPER__THREADS=<peer threads>)")
    p.add_argument("--peer-uri", help="use a wyoming-faster-whisper already running at tcp://HOST:PORT")
    p.add_argument("--peer-only", action="store_true", help="benchmark the peer alone")
    p.add_argument("--json", metavar="FILE", help="write raw per-request figures here")
    args = p.parse_args(argv)
    if args.reps < 1 or args.concurrency < 1 or args.limit < 0:
        p.error("--reps and --concurrency must be >= 1, --limit >= 0")
    if any("=" not in item for item in args.ours_env):
        p.error("--ours-env takes KEY=VALUE")
    return args


if __name__ == "__main__":
    asyncio.run(amain(parse_args()))
