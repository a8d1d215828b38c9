"""A stand-in intent server process for the "nothing lost" tests: one turn, the way the
intent server records it, then `REPLY …` on stdout (the final reply event), then it waits
to be killed.

    python -m tests.sessions.turn_process --history-url URL --data-dir DIR turn DEVICE TEXT REPLY
    python -m tests.sessions.turn_process --history-url URL --data-dir DIR history DEVICE
"""

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from nexus_wyoming.config import SessionSettings
from nexus_wyoming.sessions import LOST_WRITES, SessionManager


async def main(args: argparse.Namespace) -> None:
    settings = SessionSettings(history_url=args.history_url, redis_url=args.redis_url)
    manager = SessionManager(settings, Path(args.data_dir))
    await manager.start()
    if args.action == "history":
        history = await manager.history(args.device, turns=50)
        print(json.dumps([[m.role, m.text] for m in history]), flush=True)
        await manager.close()
        return
    session = await manager.begin_turn(args.device, "faster")
    turns_seen = len(session.history) // 2
    stored = await manager.record_turn(session, args.text, args.reply, {"llm_ms": 1.0})
    outcome = {"text": args.reply, "stored": stored, "lost": LOST_WRITES.value(), "history": turns_seen}
    print(f"REPLY {json.dumps(outcome)}", flush=True)
    if args.hang:
        await asyncio.sleep(3600)
    await manager.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser()
    parser.add_argument("--history-url", required=True)
    parser.add_argument("--redis-url")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--hang", action="store_true", help="wait to be killed after the reply")
    parser.add_argument("action", choices=["turn", "history"])
    parser.add_argument("device")
    parser.add_argument("text", nargs="?", default="")
    parser.add_argument("reply", nargs="?", default="")
    asyncio.run(main(parser.parse_args()))
