"""The Home Assistant bridge's cost, through a real Home Assistant 2025.4.4 on this machine.

Rows, each `transcript` → `handled` over Wyoming TCP (or, for the peer, HA's own REST call):
- a device command ("turn on/off the kitchen light") through our bridged intent server, vs
  the same text sent straight to HA's agent (`POST /api/conversation/process`): our hop's cost;
- a question our skills answer ("what is twelve times twelve"), with the bridge (HA is asked
  first and declines) vs without: what asking HA first adds to every other turn.
Alternated per repetition, HA warmed first (its first conversation loads its sentences), with
the 1-minute load average beside each row.

Run from the repo root:  .venv/bin/python bench/ha_bridge.py [--reps 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
try:
    from .tts import machine_line
except ImportError:  # run as a script
    from tts import machine_line

from tests.ha.lights import put_in_kitchen  # noqa: E402
from tests.intent.server_support import ask_streaming, fake_env, intent_args  # noqa: E402
from tests.support.homeassistant import HomeAssistant  # noqa: E402
from tests.support.processes import ServerProcess  # noqa: E402

COMMANDS = ("Turn on the kitchen light.", "Turn off the kitchen light.")
QUESTION = "What is twelve times twelve?"


async def ours(server: ServerProcess, text: str) -> tuple[float, str]:
    started = time.perf_counter()
    reply = await ask_streaming(server, text)
    return (time.perf_counter() - started) * 1000, reply.first("handled").data["text"]


async def home_assistants(client: httpx.AsyncClient, text: str) -> tuple[float, str]:
    started = time.perf_counter()
    answer = await client.post("/api/conversation/process", json={
        "text": text, "language": "en", "agent_id": "conversation.home_assistant", "conversation_id": "bench"})
    return (time.perf_counter() - started) * 1000, answer.json()["response"]["speech"]["plain"]["speech"]


def row(label: str, samples: list[float], loads: list[float], said: str) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (f"| {label} | {len(samples)} | {statistics.median(samples):.1f} | {p95:.1f} | "
            f"{statistics.mean(loads):.1f} | {said} |")


async def main(reps: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="nexus-bridge-bench-"))
    ha = HomeAssistant(tmp / "ha", zeroconf=False).start()
    servers: list[ServerProcess] = []
    try:
        put_in_kitchen(ha)
        env = fake_env(NEXUS_INTENT__MAX_TURNS_PER_MINUTE_PER_PEER="0")
        bridged = ServerProcess(intent_args(tmp / "bridged"), env={
            **env, "NEXUS_INTENT__HOME_ASSISTANT__URL": ha.url, "HA_TOKEN": ha.token}).start()
        plain = ServerProcess(intent_args(tmp / "plain"), env=env).start()
        servers += [bridged, plain]
        async with httpx.AsyncClient(base_url=ha.url, timeout=30,
                                     headers={"Authorization": f"Bearer {ha.token}"}) as client:
            await home_assistants(client, "hello")  # HA loads its sentences on its first conversation
            cases = {
                "device command, our bridged intent server (Wyoming)": lambda t: ours(bridged, t),
                "device command, HA's agent directly (REST, the peer)": lambda t: home_assistants(client, t),
                "skill question, bridged (HA asked first, declines)": lambda _t: ours(bridged, QUESTION),
                "skill question, no bridge": lambda _t: ours(plain, QUESTION),
            }
            times = {label: [] for label in cases}
            loads = {label: [] for label in cases}
            said = {}
            for rep in range(reps):
                for label, case in cases.items():
                    ms, text = await case(COMMANDS[rep % 2])
                    times[label].append(ms)
                    loads[label].append(os.getloadavg()[0])
                    said[label] = text
    finally:
        for server in servers:
            server.stop()
        ha.stop()
    print(machine_line())
    print("| case | n | p50 ms | p95 ms | load (1 min) | last answer |")
    print("|---|---|---|---|---|---|")
    for label in times:
        print(row(label, times[label], loads[label], said[label]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=40)
    asyncio.run(main(parser.parse_args().reps))
