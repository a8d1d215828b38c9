"""What `nexus-wyoming client` can do against a server, each returning timings.

Times are milliseconds on one clock per action, so a row reads "this happened N ms
after that"; the CLI prints them as a table or JSON. Each action first asks the server
what it serves (`describe`), so a wrong port says so instead of waiting.
"""

import asyncio
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.handle import Handled, NotHandled
from wyoming.info import Describe
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from .connection import DEFAULT_TIMEOUT_S, ClientConnection, ClientError, parse_uri
from .wav import read_wav

CHUNK_MS = 100

#: `info` keys, each a list of programs (`satellite` is one object).
KINDS = ("asr", "tts", "handle", "intent", "wake", "satellite")
ASR, TTS, HANDLE = ("asr",), ("tts",), ("handle", "intent")


@dataclass
class Result:
    """Timed milestones ("first partial", "transcript", ...) plus the outcome."""

    action: str
    milestones: list[tuple[str, float]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    def mark(self, name: str, at_ms: float) -> None:
        """Record a milestone the first time it happens."""
        if all(existing != name for existing, _ in self.milestones):
            self.milestones.append((name, round(at_ms, 1)))

    def to_dict(self) -> dict[str, Any]:
        """For --json."""
        return {"action": self.action, "timings_ms": dict(self.milestones), **self.values}


async def describe(uri: str, timeout: float = DEFAULT_TIMEOUT_S) -> Result:
    """Ask a server what it offers."""
    result = Result("describe")
    client = await ClientConnection.open(uri, timeout)
    try:
        await client.send(Describe().event())
        while True:
            event = await client.expect("info")
            if event.type == "info":
                result.mark("info", client.clock())
                result.values["info"] = event.data
                return result
    finally:
        await client.close()


def programs(info: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The programs of each kind of service an `info` offers, only kinds it serves."""
    offered: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        listed = info.get(kind) or []
        listed = [listed] if isinstance(listed, dict) else listed
        if isinstance(listed, list) and any(isinstance(p, dict) for p in listed):
            offered[kind] = [p for p in listed if isinstance(p, dict)]
    return offered


async def require(uri: str, kinds: tuple[str, ...], timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """Fail fast, naming what the server does serve, unless it serves one of `kinds`."""
    served = programs((await describe(uri, timeout)).values["info"])
    if not any(kind in served for kind in kinds):
        raise ClientError(f"{parse_uri(uri)} serves {', '.join(served) or 'nothing'}, not {' or '.join(kinds)}")


async def transcribe(uri: str, wav_path: Path, realtime: bool = True, language: Optional[str] = None,
                     timeout: float = DEFAULT_TIMEOUT_S, on_partial: Optional[Callable[[str], None]] = None) -> Result:
    """Stream a WAV file to an STT server, collecting partials and the transcript."""
    start, audio = read_wav(wav_path)
    await require(uri, ASR, timeout)
    return await transcribe_audio(uri, start, audio, realtime, language, timeout, on_partial)


async def transcribe_audio(uri: str, start: AudioStart, audio: bytes, realtime: bool = True, language: Optional[str] = None,
                           timeout: float = DEFAULT_TIMEOUT_S, on_partial: Optional[Callable[[str], None]] = None) -> Result:
    """Stream PCM to a server known to serve `asr`; `on_partial` sees the text so far as each partial arrives."""
    result = Result("transcribe")
    client = await ClientConnection.open(uri, timeout)
    partials: list[dict[str, Any]] = []
    reading = asyncio.create_task(_read_transcript(client, result, partials, on_partial))
    try:
        await client.send(Transcribe(language=language).event())
        try:
            await _send_audio(client, start, audio, realtime, reading)
        except ClientError:
            if reading.done():
                await reading  # why the server stopped listening says more than that it did
            raise
        stopped = client.clock()
        result.mark("audio-stop sent", stopped)
        text = await client.within(reading, "transcript after audio-stop")
        result.values.update(text=text, partials=partials, audio_s=round(len(audio) / (start.rate * start.width * start.channels), 2))
        result.values["audio_stop_to_transcript_ms"] = round(dict(result.milestones)["transcript"] - stopped, 1)
        return result
    finally:
        reading.cancel()
        await client.close()


async def _send_audio(client: ClientConnection, start: AudioStart, audio: bytes, realtime: bool, reading: asyncio.Task) -> None:
    """Audio in 100 ms chunks (in real time unless told otherwise), then `audio-stop`; early once the reply is in."""
    step = start.rate * start.width * start.channels * CHUNK_MS // 1000
    await client.send(start.event())
    for offset in range(0, len(audio), step):
        chunk = AudioChunk(rate=start.rate, width=start.width, channels=start.channels, audio=audio[offset : offset + step])
        await client.send(chunk.event())
        if realtime:
            await asyncio.sleep(CHUNK_MS / 1000)
        if reading.done():
            break
    await client.send(AudioStop().event())


async def _read_transcript(client: ClientConnection, result: Result, partials: list,
                           on_partial: Optional[Callable[[str], None]]) -> str:
    """Partials and the transcript; no deadline while audio is still being sent."""
    while True:
        event = await client.receive("transcript")
        if event.type == "transcript-chunk":
            result.mark("first partial", client.clock())
            partials.append({"ms": round(client.clock(), 1), "text": event.data.get("text", "")})
            if on_partial:  # chunks are appended pieces (Wyoming spec): show the text so far
                on_partial("".join(p["text"] for p in partials))
        elif Transcript.is_type(event.type):
            result.mark("transcript", client.clock())
            return Transcript.from_event(event).text


async def synthesize(uri: str, text: str, out: Optional[Path], stream: bool = False, voice: Optional[str] = None,
                     timeout: float = DEFAULT_TIMEOUT_S) -> Result:
    """Speak a text on a TTS server, optionally streamed word by word, into a WAV file."""
    await require(uri, TTS, timeout)
    result = Result("synthesize")
    chosen = SynthesizeVoice(name=voice) if voice else None
    client = await ClientConnection.open(uri, timeout)
    try:
        if stream:
            await client.send(SynthesizeStart(voice=chosen).event())
            for word in text.split(" "):
                await client.send(SynthesizeChunk(text=word + " ").event())
            await client.send(Synthesize(text=text, voice=chosen).event())
            await client.send(SynthesizeStop().event())
        else:
            await client.send(Synthesize(text=text, voice=chosen).event())
        audio, rate = await _collect_audio(client, result, "synthesize-stopped" if stream else "audio-stop")
    finally:
        await client.close()
    result.values.update(audio_s=round(len(audio) / (2 * rate), 2) if rate else 0.0, rate=rate)
    if out is not None and rate:
        write_wav(out, audio, rate)
        result.values["wav"] = str(out)
    return result


async def _collect_audio(client: ClientConnection, result: Result, until: str, patient: bool = False) -> tuple[bytes, int]:
    """Audio up to `until`; `patient` waits for the first chunk without a deadline (the text comes from elsewhere)."""
    parts: list[bytes] = []
    rate = 0
    while True:
        event = await (client.receive(until) if patient and not parts else client.expect(until))
        if AudioStart.is_type(event.type):
            rate = rate or AudioStart.from_event(event).rate
        elif AudioChunk.is_type(event.type):
            result.mark("first audio", client.clock())
            parts.append(event.payload or b"")
        if event.type == until:
            result.mark(until, client.clock())
            return b"".join(parts), rate


def write_wav(path: Path, audio: bytes, rate: int) -> None:
    """16-bit mono WAV."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(audio)


async def handle(uri: str, text: str, device_id: Optional[str] = None, conversation_id: Optional[str] = None,
                 mode: Optional[str] = None, language: str = "en", timeout: float = DEFAULT_TIMEOUT_S) -> Result:
    """Ask a conversation agent, as Home Assistant does (`transcript` → `handled`)."""
    await require(uri, HANDLE, timeout)
    result = Result("handle")
    context = {k: v for k, v in {"device_id": device_id, "conversation_id": conversation_id, "mode": mode}.items() if v}
    client = await ClientConnection.open(uri, timeout)
    chunks: list[dict[str, Any]] = []
    try:
        await client.send(Transcript(text=text, context=context or None, language=language).event())
        streaming, waiting_for = False, "handled"
        while True:
            event = await client.expect(waiting_for)
            if event.type == "handled-start":
                streaming = True
            elif event.type == "handled-chunk":
                result.mark("first chunk", client.clock())
                chunks.append({"ms": round(client.clock(), 1), "text": event.data.get("text", "")})
            elif Handled.is_type(event.type) or NotHandled.is_type(event.type):
                result.mark(event.type, client.clock())
                result.values.update(text=event.data.get("text", ""), handled=Handled.is_type(event.type),
                                     context=event.data.get("context"), chunks=chunks)
                if not streaming:
                    return result
                waiting_for = "handled-stop"
            elif event.type == "handled-stop":
                result.mark("handled-stop", client.clock())
                return result
    finally:
        await client.close()
