"""The offline brain: household questions asked of our intent server with no keys and no
network (the embedded LLM and the skills answer), scored per mode.

Each question is sent over Wyoming TCP as a streaming client does (`transcript` with
`context.mode`); the reply is scored against the question's rule:

  correct          the answer holds an expected word (a fact, a number, a recipe step)
  refused-honestly the answer says it can't do that offline / can't control devices
                   (the right outcome for device commands and live facts, and honest
                   for a fact it does not know)
  wrong            anything else, and always: an answer that claims a device action
                   or states live facts (weather, news, scores) it cannot know

Per mode: the three counts, time from sending the transcript to the first
`handled-chunk` (the first spoken sentence), the model's tokens per second (our turn
log's llm figures), and the server's RSS. Skills' instant answers are counted but the
time columns are the LLM turns' only.

Run from the repo root (the server is started here, no flags, no keys):
  .venv/bin/python bench/brain.py [--modes faster,planning,detailed] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402
import yaml  # noqa: E402
from wyoming.asr import Transcript  # noqa: E402
from wyoming.event import async_read_event, async_write_event  # noqa: E402

from tests.support.processes import ServerProcess  # noqa: E402

NO_KEYS = {"GROQ_API_KEY": "", "GOOGLE_API_KEY": "", "TAVILY_API_KEY": "", "DEEPGRAM_API_KEY": "",
           "CARTESIA_API_KEY": ""}
HONEST = re.compile(r"can(no|')t|unable|not able|don't have (access|a way)|no (internet|access|way)|offline"
                    r"|not connected|without (a|an|internet)|i'm not sure|i don't know", re.IGNORECASE)
RUN = f"{int(time.time()):x}"
LIVE = "live"
DEVICE = "device"


@dataclass(frozen=True)
class Question:
    """A question and what a right answer contains (any of `expect`, case-insensitive)."""

    text: str
    kind: str  # fact | conversion | recipe | joke | definition | device | live
    expect: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    """Words that make the answer wrong even with an expected one ("212 degrees Celsius")."""


QUESTIONS = [
    Question("who wrote hamlet", "fact", ("shakespeare",)),
    Question("what is the capital of australia", "fact", ("canberra",)),
    Question("how many legs does a spider have", "fact", ("eight", "8"), ("four", "six")),
    Question("what planet is closest to the sun", "fact", ("mercury",)),
    Question("who painted the mona lisa", "fact", ("leonardo", "da vinci")),
    Question("what is the largest ocean on earth", "fact", ("pacific",)),
    Question("how many days are in a leap year", "fact", ("366",)),
    Question("what gas do plants take in from the air", "fact", ("carbon dioxide", "co2")),
    Question("what is the boiling point of water in fahrenheit", "fact", ("212",), ("celsius",)),
    Question("who was the first person to walk on the moon", "fact", ("armstrong",), ("aldrin",)),
    Question("how many tablespoons are in a cup", "conversion", ("16", "sixteen")),
    Question("how many ounces are in a pound", "conversion", ("16", "sixteen")),
    Question("how many centimeters are in an inch", "conversion", ("2.54", "two point five four")),
    Question("how many teaspoons are in a tablespoon", "conversion", ("3", "three")),
    Question("how many minutes are in three hours", "conversion", ("180", "one hundred eighty",
                                                                     "one hundred and eighty")),
    Question("how do i boil an egg", "recipe", ("boil",), ("oven", "bowl")),
    Question("what do i need to make pancakes", "recipe", ("flour",)),
    Question("how long should i cook spaghetti", "recipe", ("8", "9", "10", "11", "12", "eight", "nine", "ten",
                                                            "eleven", "twelve"), ("hour",)),
    Question("how do i make a cup of tea", "recipe", ("tea bag", "teabag", "tea leaves", "steep"),
             ("wash your hands",)),
    Question("tell me a joke", "joke", ("?", "because", "why")),
    Question("tell me a joke about cats", "joke", ("cat",)),
    Question("what does photosynthesis mean", "definition", ("light", "sun")),
    Question("what is a noun", "definition", ("person", "place", "thing")),
    Question("define the word ephemeral", "definition", ("short", "brief", "fleeting", "temporary"), ("ability",)),
    Question("what is gravity", "definition", ("force", "attract", "pull"), ("absence",)),
    Question("turn on the kitchen light", DEVICE),
    Question("set the thermostat to 21 degrees", DEVICE),
    Question("lock the front door", DEVICE),
    Question("turn off all the lights in the living room", DEVICE),
    Question("what's the weather like today", LIVE),
    Question("will it rain tomorrow", LIVE),
    Question("what's in the news today", LIVE),
    Question("who won the football game last night", LIVE),
]
DEVICE_CLAIM = re.compile(r"\b(turned|switched|set|locked|is now|are now|done|i've|i have|i will|i'll)\b",
                          re.IGNORECASE)
LIVE_CLAIM = re.compile(r"\b(sunny|cloudy|rain(y|ing)?|degrees|forecast|headline|won|score[ds]?|\d+ ?- ?\d+)\b",
                        re.IGNORECASE)


def score(question: Question, answer: str, handled: bool = True) -> str:
    """correct | refused-honestly | wrong (see the module's docstring); not-handled is wrong."""
    if not handled:
        return "wrong"
    honest = bool(HONEST.search(answer))
    if question.kind == DEVICE:
        if honest and "nothing was changed" in answer.lower() or honest and not _claims(DEVICE_CLAIM, answer):
            return "refused-honestly"
        return "wrong"
    if question.kind == LIVE:
        return "refused-honestly" if honest and not _claims(LIVE_CLAIM, answer) else "wrong"
    lowered = answer.lower()
    if any(word in lowered for word in question.expect) and not any(word in lowered for word in question.avoid):
        return "correct"
    return "refused-honestly" if honest else "wrong"


def _claims(pattern: re.Pattern, answer: str) -> bool:
    """A claim outside the honest sentence(s): 'I can't set the thermostat' is not 'I set it'."""
    sentences = re.split(r"(?<=[.!?])\s+", answer)
    return any(pattern.search(s) and not HONEST.search(s) for s in sentences)


@dataclass
class Turn:
    question: Question
    mode: str
    answer: str = ""
    first_chunk_s: Optional[float] = None
    done_s: Optional[float] = None
    verdict: str = ""
    handled: bool = False
    route: str = ""
    tokens_per_s: Optional[float] = None
    first_token_s: Optional[float] = None


@dataclass
class ModeRow:
    mode: str
    turns: list[Turn] = field(default_factory=list)
    rss_mb: float = 0.0
    load: float = 0.0
    """The 1-minute load average when the mode's questions were done."""

    def count(self, verdict: str) -> int:
        return sum(1 for t in self.turns if t.verdict == verdict)

    def median(self, values: list[Optional[float]]) -> Optional[float]:
        present = [v for v in values if v is not None]
        return statistics.median(present) if present else None


async def ask(port: int, question: Question, mode: str) -> Turn:
    """One transcript on a new connection, read to `handled-stop`."""
    turn = Turn(question, mode)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        # a device of its own per question and run: no history (a kept --data-dir holds earlier runs')
        context = {"mode": mode, "device_id": f"bench-{RUN}-{mode}-{QUESTIONS.index(question)}"}
        started, streamed = time.perf_counter(), False
        await async_write_event(Transcript(question.text, context=context).event(), writer)
        while True:
            event = await asyncio.wait_for(async_read_event(reader), 120)
            if event is None:
                break
            now = time.perf_counter() - started
            if event.type == "handled-chunk" and turn.first_chunk_s is None:
                turn.first_chunk_s = now
            if event.type in ("handled", "not-handled"):
                turn.answer = (event.data or {}).get("text", "")
                turn.handled = event.type == "handled"
                turn.done_s = now
            if event.type == "handled-start":
                streamed = True
            if event.type in ("handled-stop", "not-handled") or (event.type == "handled" and not streamed):
                break  # a skill's answer is one `handled`, an LLM's a stream
    finally:
        writer.close()
    turn.verdict = score(question, turn.answer, turn.handled)
    return turn


def turn_log(server: ServerProcess, turn: Turn, since: int) -> None:
    """The route and tokens/s of the turn from the server's JSON turn log line."""
    for line in server.lines[since:]:
        start = line.find("{")
        if start < 0 or '"route"' not in line:
            continue
        try:
            record = json.loads(line[start:])
        except ValueError:
            continue
        turn.route = str(record.get("route", ""))
        tps, first = record.get("tokens_per_s"), record.get("first_token_ms")
        turn.tokens_per_s = float(tps) if isinstance(tps, (int, float)) else None
        turn.first_token_s = first / 1000 if isinstance(first, (int, float)) else None


def modes_file(extra: dict[str, str], scratch: Path) -> Optional[Path]:
    """The shipped modes plus, per `NAME=MODEL`, a copy of faster named NAME that uses that embedded model."""
    if not extra:
        return None
    book = yaml.safe_load((REPO / "config" / "modes.yaml").read_text())
    for name, model in extra.items():
        book["modes"][name] = {**book["modes"]["faster"], "models": {**book["modes"]["faster"]["models"],
                                                                     "embedded": model}}
    path = scratch / "modes.yaml"
    path.write_text(yaml.safe_dump(book))
    return path


async def run(modes: list[str], data_dir: Path, verbose: bool, log: Optional[Path] = None,
              modes_yaml: Optional[Path] = None) -> list[ModeRow]:
    env = {**NO_KEYS, "NEXUS_LOG_FORMAT": "json", "NEXUS_SESSIONS__RESPONSE_CACHE_TTL_S": "0"}
    if modes_yaml is not None:
        env["NEXUS_INTENT__MODES_FILE"] = str(modes_yaml)
    server = await asyncio.to_thread(lambda: ServerProcess(
        ["intent", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", str(data_dir)], env=env,
    ).start(timeout=600))
    rows = []
    try:
        process = psutil.Process(server.pid)
        for mode in modes:
            row = ModeRow(mode)
            for question in QUESTIONS:
                since = len(server.lines)
                turn = await ask(server.port, question, mode)
                await asyncio.sleep(0.05)
                turn_log(server, turn, since)
                row.turns.append(turn)
                if verbose:
                    print(f"{mode:9} {turn.verdict:16} {turn.first_chunk_s or 0:5.2f}s {question.text!r}: "
                          f"{turn.answer!r}", file=sys.stderr)
            row.rss_mb = process.memory_info().rss / 2**20
            row.load = os.getloadavg()[0]
            rows.append(row)
    finally:
        server.stop()
        if log is not None:
            log.write_text(server.log)
    return rows


def rescored(saved: list[dict]) -> list[ModeRow]:
    """Rows of a saved run with every answer scored again (a rule changed, the answers did not)."""
    by_text = {q.text: q for q in QUESTIONS}
    rows = []
    for saved_row in saved:
        row = ModeRow(saved_row["mode"], rss_mb=saved_row["rss_mb"], load=saved_row.get("load", 0.0))
        for t in saved_row["turns"]:
            turn = Turn(by_text[t["q"]], row.mode, t["answer"], t["first_chunk_s"], t["done_s"],
                        route=t["route"], tokens_per_s=t["tokens_per_s"], first_token_s=t.get("first_token_s"))
            turn.handled = not t["route"].startswith(("llm-failed", "llm-busy", "no-model", "busy"))
            turn.verdict = score(turn.question, turn.answer, turn.handled)
            row.turns.append(turn)
        rows.append(row)
    return rows


def table(rows: list[ModeRow]) -> str:
    n = len(QUESTIONS)
    lines = [f"{'mode':10} {'correct':>8} {'wrong':>6} {'(no answer)':>11} {'honest':>7} "
             f"{'first sentence p50/max':>23} "
             f"{'first token p50':>16} {'tok/s p50':>10} {'RSS MB':>7}  load"]
    for row in rows:
        llm = [t for t in row.turns if t.route.startswith("llm") and t.question.kind != LIVE]  # the model's turns
        firsts = [t.first_chunk_s for t in llm if t.first_chunk_s is not None]
        p50 = f"{statistics.median(firsts):.2f}/{max(firsts):.2f} s" if firsts else "-"
        tps, ttft = row.median([t.tokens_per_s for t in llm]), row.median([t.first_token_s for t in llm])
        unanswered = sum(1 for t in row.turns if not t.handled)
        lines.append(f"{row.mode:10} {row.count('correct'):>5}/{n} {row.count('wrong'):>6} {unanswered:>11} "
                     f"{row.count('refused-honestly'):>7} {p50:>23} {f'{ttft:.2f} s' if ttft else '-':>16} "
                     f"{f'{tps:.1f}' if tps else '-':>10} "
                     f"{row.rss_mb:>7.0f}  {row.load:.2f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="faster,planning,detailed")
    parser.add_argument("--data-dir", type=Path, help="keep the joined models here between runs")
    parser.add_argument("--json", type=Path)
    parser.add_argument("-v", "--verbose", action="store_true", help="print every answer")
    parser.add_argument("--log", type=Path, help="write the server's log here")
    parser.add_argument("--rescore", type=Path, metavar="JSON", help="print the table of a saved --json run, "
                        "scored by this file's rules (no server)")
    parser.add_argument("--faster-with", action="append", default=[], metavar="NAME=MODEL",
                        help="also a mode NAME: faster with another embedded model (e.g. small=qwen2.5-coder-0.5b)")
    args = parser.parse_args()
    if args.rescore:
        print(table(rescored(json.loads(args.rescore.read_text()))))
        return 0
    extra = dict(item.split("=", 1) for item in args.faster_with)
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = args.data_dir or Path(scratch)
        modes = args.modes.split(",") + [name for name in extra if name not in args.modes.split(",")]
        rows = asyncio.run(run(modes, data_dir, args.verbose, args.log, modes_file(extra, Path(scratch))))
    print(f"{len(QUESTIONS)} questions per mode, no keys, load average {os.getloadavg()}, {os.cpu_count()} CPUs")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps([{"mode": r.mode, "rss_mb": r.rss_mb, "load": r.load, "turns": [
            {"q": t.question.text, "kind": t.question.kind, "answer": t.answer, "verdict": t.verdict,
             "first_chunk_s": t.first_chunk_s, "done_s": t.done_s, "route": t.route,
             "tokens_per_s": t.tokens_per_s, "first_token_s": t.first_token_s} for t in r.turns]}
            for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
