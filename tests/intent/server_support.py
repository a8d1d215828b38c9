"""Real `nexus-wyoming intent` processes pointed at local fakes, and clients that behave like
Home Assistant 2025.4 (reads only until `handled`/`not-handled`) or like a streaming client."""

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Optional

from wyoming.asr import Transcript
from wyoming.event import Event

from tests.fakes.openai_sse import FakeOpenAi
from tests.fakes.tavily import FakeTavily
from tests.support.client import WyomingClient
from tests.support.processes import ServerProcess

#: Provider keys cleared, so a developer's own keys never reach a test.
NO_KEYS = {"GROQ_API_KEY": "", "GOOGLE_API_KEY": "", "TAVILY_API_KEY": "", "DEEPGRAM_API_KEY": "",
           "CARTESIA_API_KEY": ""}
#: For a test whose answers come from fakes or skills: no embedded LLM to load (it takes
#: seconds and ~2 GB per process). Tests of the default path leave it on.
NO_EMBEDDED_LLM = {"NEXUS_INTENT__EMBEDDED__ENABLED": "false"}


def intent_args(data_dir) -> list[str]:
    return ["intent", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", str(data_dir)]


def fake_env(groq: Optional[FakeOpenAi] = None, gemini: Optional[FakeOpenAi] = None,
             tavily: Optional[FakeTavily] = None, **extra: str) -> dict[str, str]:
    """Environment that points the server's providers at the fakes."""
    env = {**NO_KEYS, **NO_EMBEDDED_LLM, "NEXUS_INTENT__FIRST_TOKEN_TIMEOUT_S": "0.5", **extra}
    if groq is not None:
        env.update(GROQ_API_KEY=groq.api_key, NEXUS_INTENT__GROQ__URL=groq.url)
    if gemini is not None:
        env.update(GOOGLE_API_KEY=gemini.api_key, NEXUS_INTENT__GEMINI__URL=gemini.url)
    if tavily is not None:
        env.update(TAVILY_API_KEY=tavily.api_key, NEXUS_INTENT__TAVILY__URL=tavily.url)
    return env


async def start_intent(data_dir, env: dict[str, str], extra_args: Optional[list[str]] = None) -> ServerProcess:
    args = intent_args(data_dir) + (extra_args or [])
    return await asyncio.to_thread(lambda: ServerProcess(args, env=env).start())


@dataclass
class Reply:
    """What a client read for one transcript, with arrival times."""

    events: list[Event] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events]

    def first(self, event_type: str) -> Event:
        return next(e for e in self.events if e.type == event_type)

    def time_of(self, event_type: str) -> float:
        return next(t for e, t in zip(self.events, self.times) if e.type == event_type)

    @property
    def chunks(self) -> list[str]:
        return [e.data["text"] for e in self.events if e.type == "handled-chunk"]


async def ask_like_home_assistant(server: ServerProcess, text: str, conversation_id: str = "01HA") -> Event:
    """Home Assistant 2025.4: transcript with only conversation_id; read until (not-)handled, then close."""
    client = await WyomingClient.connect(server.host, server.port)
    try:
        await client.send(Transcript(text, context={"conversation_id": conversation_id}).event())
        while True:
            event = await client.read(timeout=30)
            assert event is not None, "connection lost before handled"
            if event.type in ("handled", "not-handled", "intent", "not-recognized"):
                return event
    finally:
        await client.close()


async def ask_streaming(server: ServerProcess, text: str, until: str = "handled-stop", **context) -> Reply:
    """A streaming client (newer HA, our satellite): reads everything up to `until`."""
    client = await WyomingClient.connect(server.host, server.port)
    reply = Reply()
    try:
        await client.send(Transcript(text, context={"conversation_id": "c1", **context}, language="en").event())
        async with asyncio.timeout(30):
            while True:
                event = await client.read(timeout=30)
                assert event is not None, f"closed after {reply.types}"
                reply.events.append(event)
                reply.times.append(time.perf_counter())
                unstreamed = "handled-start" not in reply.types
                if event.type in (until, "not-handled", "error") or (event.type == "handled" and unstreamed):
                    return reply
    finally:
        await client.close()


async def turn_lines(server: ServerProcess, count: int, timeout: float = 5.0) -> list[dict]:
    """The server's per-turn JSON log lines, once `count` are there (each is written after its reply)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [json.loads(line[line.index("{"):]) for line in server.lines if '"request": "intent"' in line]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        await asyncio.sleep(0.05)
