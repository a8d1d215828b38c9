"""Fuzz cases against a real server process: each case's outcome within a bound, a canary
client served meanwhile, the server's RSS and log watched. Used by tests/protocol/test_fuzz.py
and bench/fuzz.py.
"""

import asyncio
import contextlib
import os
import statistics
import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Iterable, Optional

import psutil
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.ping import Ping
from wyoming.tts import Synthesize

from nexus_wyoming.config import Limits
from nexus_wyoming.protocol.reader import ProtocolError, read_event
from tests.fakes.openai_sse import FakeOpenAi
from tests.intent.server_support import fake_env
from tests.satellite.process import SatelliteProcess
from tests.satellite.speech import silence, write_wav
from tests.support.client import WyomingClient
from tests.support.fuzzcases import AUDIO, Case
from tests.support.processes import ServerProcess

OUTCOMES = ("error", "answered", "closed", "hang")
#: Seconds a case may go unanswered: Whisper decodes one utterance at a time, and on two
#: shared cores one decode of a fuzzed utterance takes up to ~5 s, queued behind the canary's.
BOUND_S = {"stt": 30.0, "intent": 10.0, "tts": 10.0, "satellite": 10.0}
#: Seconds between canary requests: the intent server allows one peer 30 turns a minute.
CANARY_PAUSE_S = {"intent": 2.5}
_READ_LIMITS = Limits(max_payload_bytes=16 * 1024 * 1024)


@dataclass
class Outcome:
    """What the server did with one case: its first reaction and how long it took."""

    kind: str  # one of OUTCOMES
    seconds: float


async def attack(host: str, port: int, case: Case, bound_s: float, drain_s: float) -> Outcome:
    """Send the case, close our side, wait for an event or a close; then read on for `drain_s` and hang up."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port, limit=_READ_LIMITS.max_header_bytes)
    try:
        first = asyncio.create_task(_first_reaction(reader))
        with contextlib.suppress(OSError, TimeoutError):
            writer.write(case.raw)
            async with asyncio.timeout(bound_s):
                await writer.drain()
            writer.write_eof()
        done, _ = await asyncio.wait([first], timeout=max(0.0, bound_s - (time.perf_counter() - started)))
        if not done:
            first.cancel()
            return Outcome("hang", time.perf_counter() - started)
        outcome = Outcome(first.result(), time.perf_counter() - started)
        if outcome.kind != "closed":
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain_s):
                    while await _first_reaction(reader) != "closed":
                        pass
        return outcome
    finally:
        writer.transport.abort()


async def _first_reaction(reader: asyncio.StreamReader) -> str:
    try:
        event = await read_event(reader, _READ_LIMITS)
    except (OSError, ProtocolError):
        return "closed"
    if event is None:
        return "closed"
    return "error" if event.type == "error" else "answered"


async def _tts_request(client: WyomingClient) -> None:
    await client.send(Synthesize(text="Still here.").event())
    events = await client.read_until("audio-stop")
    assert events[0].type == "audio-start", [e.type for e in events]


async def _stt_request(client: WyomingClient) -> None:
    await client.send(Transcribe(language="en").event())
    await client.send(AudioStart(rate=16000, width=2, channels=1).event())
    await client.send(AudioChunk(rate=16000, width=2, channels=1, audio=AUDIO).event())
    await client.send(AudioStop().event())
    transcript = Transcript.from_event((await client.read_until("transcript"))[-1])
    assert isinstance(transcript.text, str)


async def _intent_request(client: WyomingClient) -> None:
    await client.send(Transcript("what is 2 plus 2", context={"conversation_id": "canary"}).event())
    while (answer := await client.read()) is not None and answer.type in ("handled-start", "handled-chunk"):
        pass
    assert answer is not None and answer.type == "handled" and answer.data["text"] == "2 plus 2 is 4.", answer


async def _satellite_request(client: WyomingClient) -> None:
    await client.send(Ping(text="canary").event())
    assert (await client.read_until("pong"))[-1].data["text"] == "canary"


CANARY_REQUESTS: dict[str, Callable[[WyomingClient], Awaitable[None]]] = {
    "tts": _tts_request, "stt": _stt_request, "intent": _intent_request, "satellite": _satellite_request}


@dataclass
class Canary:
    """A well-behaved client on another host address (per-peer limits are not its business), making
    the server's normal request again and again, one connection each."""

    server: str
    host: str
    port: int
    source: str = "127.0.0.2"
    pause_s: float = 0.2
    timeout_s: float = 30.0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    async def run(self) -> None:
        """Until cancelled."""
        request = CANARY_REQUESTS[self.server]
        while True:
            started = time.perf_counter()
            try:
                client = await WyomingClient.connect(self.host, self.port, source=self.source)
                try:
                    async with asyncio.timeout(self.timeout_s):
                        await request(client)
                finally:
                    await client.close()
                self.latencies.append(time.perf_counter() - started)
            except (AssertionError, ConnectionError, TimeoutError, KeyError) as err:
                self.failures.append(f"{type(err).__name__}: {err}"[:300])
            await asyncio.sleep(self.pause_s)


@dataclass
class Report:
    """One server's run: outcomes, the slowest cases, hangs, crashes, canary latency, RSS."""

    server: str
    seed: int
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    hangs: list[str] = field(default_factory=list)
    crash: Optional[str] = None
    tracebacks: list[str] = field(default_factory=list)  # the cases after which a traceback appeared
    slowest: tuple[float, str] = (0.0, "")
    canary: list[float] = field(default_factory=list)
    canary_failures: list[str] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    seconds: float = 0.0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def cases(self) -> int:
        return sum(self.counts.values())

    def canary_ms(self) -> dict[str, float]:
        """p50 / p99 / max of the canary's request latency in ms."""
        ordered = sorted(v * 1000 for v in self.canary) or [0.0]
        p99 = statistics.quantiles(ordered, n=100, method="inclusive")[98] if len(ordered) > 1 else ordered[0]
        return {"n": len(self.canary), "p50": statistics.median(ordered), "p99": p99, "max": ordered[-1]}


async def fuzz(server: str, process: ServerProcess, cases: Iterable[Case], seed: int, max_cases: int,
               max_seconds: float, bound_s: Optional[float] = None, drain_s: float = 0.5,
               min_cases: int = 0) -> Report:
    """Run up to `max_cases` cases or `max_seconds`, whichever ends first (but at least `min_cases`:
    the fixed battery), with a canary alongside."""
    report = Report(server, seed)
    bound_s = bound_s or BOUND_S[server]
    memory = psutil.Process(process.pid)
    report.rss.append(memory.memory_info().rss)
    canary = Canary(server, process.host, process.port, pause_s=CANARY_PAUSE_S.get(server, 0.2))
    canary_task = asyncio.create_task(canary.run())
    started = time.perf_counter()
    seen_lines = 0
    try:
        for index, case in enumerate(islice(cases, max_cases)):
            if index >= min_cases and time.perf_counter() - started > max_seconds:
                break
            label = f"{case.kind}: {case.name}"
            outcome = await attack(process.host, process.port, case, bound_s, drain_s)
            report.counts[outcome.kind] += 1
            report.slowest = max(report.slowest, (outcome.seconds, label))
            if outcome.kind == "hang":
                report.hangs.append(label)
            if not process.alive:
                report.crash = label
                break
            lines = process.lines[seen_lines:]  # only the new ones: the log of a long run is large
            seen_lines += len(lines)
            if any("Traceback" in line for line in lines):
                report.tracebacks.append(label)
            report.rss.append(memory.memory_info().rss)
    finally:
        canary_task.cancel()
        await asyncio.gather(canary_task, return_exceptions=True)
    report.seconds = time.perf_counter() - started
    report.canary, report.canary_failures = canary.latencies, canary.failures
    report.load = os.getloadavg()
    return report


@contextlib.asynccontextmanager
async def served(server: str, data_dir: Path) -> AsyncIterator[ServerProcess]:
    """A real `server` process on 127.0.0.1 with a throwaway data dir (intent: a local fake LLM)."""
    common = ["--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", str(data_dir)]
    async with contextlib.AsyncExitStack() as stack:
        if server == "intent":
            llm = await stack.enter_async_context(FakeOpenAi(reply="Fine. Thanks."))
            process = ServerProcess(["intent", *common], env=fake_env(llm))
        elif server == "satellite":
            mic = write_wav(data_dir / "mic.wav", silence(0.5))
            played = data_dir / "played.wav"
            process = SatelliteProcess(["ha", *common, "--mic-file", str(mic), "--snd-file", str(played)])
        else:
            process = ServerProcess([server, *common], env={"DEEPGRAM_API_KEY": "", "CARTESIA_API_KEY": ""})
        await asyncio.to_thread(process.start, 120.0)
        try:
            yield process
        finally:
            process.stop()
