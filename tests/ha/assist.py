"""Assist pipelines over HA's websocket: create one, run it on spoken audio at real-time pace,
fetch its TTS and hear it back with our STT."""

import asyncio
import re
import subprocess
import time
from dataclasses import dataclass, field
from typing import Optional

import httpx
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop

from tests.ha.websocket import HaSocket
from tests.support.client import WyomingClient
from tests.support.homeassistant import HomeAssistant

RATE, BYTES_PER_SECOND = 16_000, 32_000
FRAME = 1024 * 2  # 64 ms, as HA's own voice clients send


async def create_pipeline(ws: HaSocket, name: str, stt: str, agent: str, tts: Optional[str],
                          prefer_local_intents: bool = False) -> str:
    """A pipeline of these entities in English (each engine's own English, as HA's UI picks it); its id."""
    languages = {domain: await ws.command(f"{domain}/engine/list", language="en") for domain in ("stt", "tts")}
    result = await ws.command("assist_pipeline/pipeline/create",
                              **pipeline_fields(name, stt, agent, tts, prefer_local_intents, languages))
    return result["id"]


def create_pipeline_sync(ha: HomeAssistant, name: str, stt: str, agent: str, tts: str,
                         prefer_local_intents: bool = False) -> str:
    """create_pipeline for synchronous fixtures."""
    languages = {domain: ha.command(f"{domain}/engine/list", language="en") for domain in ("stt", "tts")}
    result = ha.command("assist_pipeline/pipeline/create",
                        **pipeline_fields(name, stt, agent, tts, prefer_local_intents, languages))
    return result["id"]


def pipeline_fields(name: str, stt: str, agent: str, tts: Optional[str], prefer_local_intents: bool,
                    languages: dict[str, dict]) -> dict:
    """English throughout; each engine's first English variant (e.g. en_US for a Piper voice)."""
    def english(domain: str, engine: Optional[str]) -> Optional[str]:
        if engine is None:
            return None
        return next(p["supported_languages"][0] for p in languages[domain]["providers"] if p["engine_id"] == engine)

    return dict(name=name, language="en", conversation_engine=agent, conversation_language="en",
                prefer_local_intents=prefer_local_intents, stt_engine=stt, stt_language=english("stt", stt),
                tts_engine=tts, tts_language=english("tts", tts), tts_voice=None, wake_word_entity=None,
                wake_word_id=None)


@dataclass
class Run:
    """The events of one pipeline run, with arrival times (monotonic)."""

    events: list[dict] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    @property
    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def data(self, kind: str) -> dict:
        return next(e["data"] for e in self.events if e["type"] == kind)

    @property
    def transcript(self) -> str:
        return self.data("stt-end")["stt_output"]["text"]

    @property
    def answer(self) -> str:
        return self.data("intent-end")["intent_output"]["response"]["speech"]["plain"]["speech"]

    @property
    def tts_url(self) -> str:
        return self.data("tts-end")["tts_output"]["url"]


async def run_audio(ws: HaSocket, pipeline: str, pcm: bytes, end_stage: str = "tts", leading_s: float = 0.5,
                    trailing_s: float = 2.5, timeout: float = 90.0) -> Run:
    """stt → `end_stage` on `pcm` (16 kHz mono) sent at real-time pace after `leading_s` of silence (as
    a mic hears before someone speaks), then silence until HA's VAD ends the speech; all events up to
    run-end."""
    queue = await ws.subscribe("assist_pipeline/run", start_stage="stt", end_stage=end_stage, pipeline=pipeline,
                               input={"sample_rate": RATE}, timeout=timeout)
    run = Run()

    def drain() -> None:
        while not queue.empty():
            run.events.append(queue.get_nowait())
            run.times.append(time.monotonic())

    async with asyncio.timeout(timeout):
        while "run-start" not in run.types:
            run.events.append(await queue.get())
            run.times.append(time.monotonic())
        handler = bytes([run.data("run-start")["runner_data"]["stt_binary_handler_id"]])
        audio = bytes(int(leading_s * RATE) * 2) + pcm + bytes(int(trailing_s * RATE) * 2)
        started = time.monotonic()
        for offset in range(0, len(audio), FRAME):
            drain()
            if {"stt-vad-end", "stt-end", "error"} & set(run.types):
                break
            await ws.send_bytes(handler + audio[offset:offset + FRAME])
            await asyncio.sleep(max(0.0, started + (offset + FRAME) / BYTES_PER_SECOND - time.monotonic()))
        await ws.send_bytes(handler)  # the end of the audio
        while not {"run-end", "error"} & set(run.types):
            run.events.append(await queue.get())
            run.times.append(time.monotonic())
    return run


def fetch_tts(ha: HomeAssistant, url: str) -> bytes:
    """The TTS audio behind a pipeline's URL, decoded by ffmpeg to 16 kHz 16-bit mono PCM."""
    response = httpx.get(url if url.startswith("http") else f"{ha.url}{url}", timeout=60)
    response.raise_for_status()
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", str(RATE),
                              "pipe:1"], input=response.content, capture_output=True, check=True)
    return decoded.stdout


async def transcribe(host: str, port: int, pcm: bytes) -> str:
    """Our STT server's transcript of `pcm`, as HA's client asks for it."""
    client = await WyomingClient.connect(host, port)
    try:
        await client.send(Transcribe(language="en").event())
        await client.send(AudioStart(rate=RATE, width=2, channels=1).event())
        for offset in range(0, len(pcm), FRAME):
            await client.send(AudioChunk(rate=RATE, width=2, channels=1, audio=pcm[offset:offset + FRAME]).event())
        await client.send(AudioStop().event())
        events = await client.read_until("transcript", 60)
        return events[-1].data["text"]
    finally:
        await client.close()


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def similar(said: str, heard: str) -> float:
    """The share of `said`'s words that `heard` has (order-free; numbers as they were written)."""
    expected, got = words(said), set(words(heard))
    return sum(word in got for word in expected) / max(1, len(expected))
