"""Long fuzz runs against real server processes: the cases of tests/support/fuzzcases.py (the
fixed battery, then seeded mutations of valid streams), one connection at a time, each sent
whole and then half-closed, while a canary client keeps making the server's normal request.

A crash is the process gone; a hang is no event and no close within --bound-s; a traceback
is one in the server's log. Prints one row per server, with the load average beside it.

Run from the repo root:  .venv/bin/python bench/fuzz.py --cases 2000 --server all --seed 1
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.fuzzcases import SERVERS, cases, fixed  # noqa: E402
from tests.support.fuzzing import BOUND_S, Report, fuzz, served  # noqa: E402

HEADER = ["| server | cases | s | error | answered | closed | crashes | hangs | tracebacks | slowest case s "
          "| canary n | canary p50 / p99 / max ms | canary failures | RSS start / end / max MB | load avg |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]


def row(report: Report) -> str:
    """One table row."""
    c, mb = report.counts, [r / 2 ** 20 for r in report.rss]
    canary = report.canary_ms()
    load = " ".join(f"{v:.1f}" for v in report.load)
    return (f"| {report.server} | {report.cases} | {report.seconds:.0f} | {c['error']} | {c['answered']} | {c['closed']} "
            f"| {int(report.crash is not None)} | {c['hang']} | {len(report.tracebacks)} | {report.slowest[0]:.2f} "
            f"| {canary['n']} | {canary['p50']:.0f} / {canary['p99']:.0f} / {canary['max']:.0f} "
            f"| {len(report.canary_failures)} | {mb[0]:.0f} / {mb[-1]:.0f} / {max(mb):.0f} | {load} |")


def details(report: Report) -> list[str]:
    """What went wrong, by case, for the reader to reproduce (same seed, same server)."""
    lines = [f"  {report.server}: slowest {report.slowest[1]} ({report.slowest[0]:.2f} s)"]
    lines += [f"  {report.server}: crash after {report.crash}"] if report.crash else []
    lines += [f"  {report.server}: hang: {name}" for name in report.hangs[:20]]
    lines += [f"  {report.server}: traceback after: {name}" for name in report.tracebacks[:20]]
    lines += [f"  {report.server}: canary failed: {text}" for text in report.canary_failures[:5]]
    return lines


async def amain(args: argparse.Namespace) -> None:
    servers = SERVERS if args.server == "all" else (args.server,)
    bounds = args.bound_s or ", ".join(f"{name} {BOUND_S[name]:g}" for name in servers)
    print(f"Fuzz, seed {args.seed}, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"bound per case (s): {bounds}", flush=True)
    print("\n".join(HEADER), flush=True)
    notes: list[str] = []
    for server in servers:
        with tempfile.TemporaryDirectory(prefix=f"fuzz-{server}-") as data_dir:
            async with served(server, Path(data_dir)) as process:
                report = await fuzz(server, process, cases(server, args.seed), args.seed, args.cases,
                                    args.max_seconds, args.bound_s, min_cases=sum(1 for _ in fixed(server)))
                log = process.log
        print(row(report), flush=True)
        if report.tracebacks and args.log_dir:  # after the row: an hour's result is never lost to a bad path
            Path(args.log_dir).mkdir(parents=True, exist_ok=True)
            (Path(args.log_dir) / f"fuzz-{server}.log").write_text(log)
        notes += details(report)
    print("\n".join(notes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=2000, help="cases per server")
    parser.add_argument("--server", choices=[*SERVERS, "all"], default="all")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bound-s", type=float, help="seconds a case may go unanswered (default: per server, "
                        "tests/support/fuzzing.py BOUND_S)")
    parser.add_argument("--max-seconds", type=float, default=24 * 3600.0, help="time cap per server")
    parser.add_argument("--log-dir", help="keep the server log here when it has a traceback")
    asyncio.run(amain(parser.parse_args()))


if __name__ == "__main__":
    main()
