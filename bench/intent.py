"""Benchmark the intent server over Wyoming TCP, with a fake LLM (200 ms to first token,
50 tokens/s) and a fake Tavily (600 ms), both speaking the real wire formats:

  (a) our overhead: transcript sent → first `handled-chunk` received, minus the provider's
      own time to first token (measured at the fake: request received → first token written);
      the fake's first token is a whole sentence, so nothing waits for more text;
  (b) a built-in skill's answer: transcript sent → `handled` received (p99 target ≤ 5 ms);
  (c) time to the first sentence with web search on, planning (waits ≤ 800 ms for search)
      vs detailed (waits for the results), with Tavily at 600 ms and at 1500 ms.

Run from the repo root:  .venv/bin/python bench/intent.py [--reps 50] [--json out.json]
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
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from wyoming.asr import Transcript  # noqa: E402
from wyoming.event import async_read_event, async_write_event  # noqa: E402

from tests.fakes.openai_sse import FakeOpenAi, tokens_of  # noqa: E402
from tests.fakes.tavily import FakeTavily  # noqa: E402
from tests.support.processes import ServerProcess  # noqa: E402

TTFT_S = 0.2
TOKENS_PER_S = 50.0
TAVILY_S = 0.6
REPLY = ("It is sunny and warm today. A light breeze comes from the west, and the evening "
         "will be clear and mild.")
SKILL_QUESTIONS = ["what is 17 times 23", "what time is it", "convert 5 miles to kilometers", "thank you"]


async def ask(port: int, text: str, context: dict[str, Any]) -> dict[str, float]:
    """One transcript on a new connection; seconds from sending to each event type's first arrival."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    seen: dict[str, float] = {}
    try:
        started = time.perf_counter()
        await async_write_event(Transcript(text, context=context).event(), writer)
        while True:
            event = await asyncio.wait_for(async_read_event(reader), 30)
            if event is None:
                raise ConnectionError(f"closed after {sorted(seen)}")
            seen.setdefault(event.type, time.perf_counter() - started)
            if event.type in ("not-handled", "error"):
                raise RuntimeError(f"{event.type}: {event.data}")
            if event.type == "handled-stop" or (event.type == "handled" and "handled-start" not in seen):
                return seen
    finally:
        writer.close()


def stats_ms(values: list[float]) -> dict[str, float]:
    """p50 / p95 / p99 / max in milliseconds."""
    ordered = sorted(v * 1000 for v in values)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"n": len(ordered), "p50": statistics.median(ordered), "p95": cuts[94], "p99": cuts[98],
            "max": ordered[-1]}


def start_server(data_dir: str, env: dict[str, str]) -> ServerProcess:
    args = ["intent", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", data_dir]
    return ServerProcess(args, env={"GOOGLE_API_KEY": "", "DEEPGRAM_API_KEY": "", **env}).start()


async def overhead(port: int, llm: FakeOpenAi, reps: int, warmup: int) -> dict[str, Any]:
    """(a): first handled-chunk minus the provider's own time to first token."""
    llm.tokens = ["Sure. "] + tokens_of(REPLY)
    skip = len(llm.first_token_sent)
    totals, ttfts, extra = [], [], []
    for i in range(warmup + reps):
        seen = await ask(port, f"Tell me something nice, number {i}.", {"conversation_id": f"bench-a-{i}"})
        if i < warmup:
            continue
        index = skip + i
        ttft = llm.first_token_sent[index] - llm.request_received[index]
        totals.append(seen["handled-chunk"])
        ttfts.append(ttft)
        extra.append(seen["handled-chunk"] - ttft)
    return {"first_chunk": stats_ms(totals), "provider_ttft": stats_ms(ttfts), "overhead": stats_ms(extra)}


async def skills(port: int, reps: int, warmup: int) -> dict[str, Any]:
    """(b): a skill's answer, send → handled."""
    times = []
    for i in range(warmup + reps):
        question = SKILL_QUESTIONS[i % len(SKILL_QUESTIONS)]
        seen = await ask(port, question, {"conversation_id": f"bench-b-{i % 20}"})
        if i >= warmup:
            times.append(seen["handled"])
    return stats_ms(times)


async def search_modes(port: int, llm: FakeOpenAi, tavily: FakeTavily, reps: int, warmup: int) -> dict[str, Any]:
    """(c): send → first handled-chunk for a question that needs search, per mode and Tavily delay."""
    llm.tokens = tokens_of(REPLY)
    found: dict[str, Any] = {}
    for delay in (TAVILY_S, 1.5):
        tavily.delay_s = delay
        for mode in ("planning", "detailed"):
            times = []
            for i in range(warmup + reps):
                context = {"conversation_id": f"bench-c-{mode}-{delay}-{i}", "mode": mode}
                seen = await ask(port, "What's the weather today?", context)
                if i >= warmup:
                    times.append(seen["handled-chunk"])
            found[f"{mode}, tavily {delay * 1000:.0f} ms"] = stats_ms(times)
    return found


def machine_line() -> str:
    cpus = os.cpu_count()
    return f"{platform.processor() or platform.machine()}, {cpus} CPUs, Python {platform.python_version()}"


def render(result: dict[str, Any]) -> str:
    a, b, c = result["overhead"], result["skills"], result["search"]
    lines = [f"Intent server benchmark, {result['when']} ({result['machine']})", "",
             f"Fake LLM: {TTFT_S * 1000:.0f} ms to first token, {TOKENS_PER_S:.0f} tokens/s; fake Tavily "
             f"{TAVILY_S * 1000:.0f} ms (and 1500 ms). ms; new TCP connection per request.", "",
             "| measure | n | p50 ms | p95 ms | p99 ms | max ms |", "|---|---|---|---|---|---|"]

    def row(label: str, s: dict[str, float]) -> str:
        return f"| {label} | {s['n']} | {s['p50']:.1f} | {s['p95']:.1f} | {s['p99']:.1f} | {s['max']:.1f} |"

    lines += [row("(a) transcript → first handled-chunk", a["first_chunk"]),
              row("(a) provider time to first token (at the fake)", a["provider_ttft"]),
              row("**(a) our overhead** (target p50/p95 ≤ 10)", a["overhead"]),
              row("**(b) skill answer** transcript → handled (target p99 ≤ 5)", b)]
    lines += [row(f"(c) first sentence, {label}", s) for label, s in c.items()]
    return "\n".join(lines)


async def amain(args: argparse.Namespace) -> None:
    async with FakeOpenAi(ttft_s=TTFT_S, tokens_per_s=TOKENS_PER_S, keepalive_s=10.0) as llm, \
            FakeTavily(delay_s=TAVILY_S) as tavily:
        env = {"GROQ_API_KEY": llm.api_key, "NEXUS_INTENT__GROQ__URL": llm.url,
               "TAVILY_API_KEY": tavily.api_key, "NEXUS_INTENT__TAVILY__URL": tavily.url,
               # one client asking hundreds of times a minute: the per-peer limits would answer "busy"
               "NEXUS_INTENT__MAX_TURNS_PER_MINUTE_PER_PEER": "0",
               "NEXUS_INTENT__MAX_PAID_CALLS_PER_MINUTE_PER_PEER": "0"}
        with tempfile.TemporaryDirectory(prefix="bench-intent-") as data_dir:
            server = await asyncio.to_thread(start_server, data_dir, env)
            try:
                result = {
                    "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    "machine": machine_line(),
                    "overhead": await overhead(server.port, llm, args.reps, 3),
                    "skills": await skills(server.port, args.skill_reps, 20),
                    "search": await search_modes(server.port, llm, tavily, args.search_reps, 1),
                }
            finally:
                server.stop()
    print(render(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=50, help="LLM turns for (a)")
    parser.add_argument("--skill-reps", type=int, default=400, help="skill answers for (b)")
    parser.add_argument("--search-reps", type=int, default=10, help="turns per mode and Tavily delay for (c)")
    parser.add_argument("--json", help="also write the figures to this file")
    asyncio.run(amain(parser.parse_args()))


if __name__ == "__main__":
    main()
