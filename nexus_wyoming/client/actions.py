"""What `nexus-wyoming client` can do against a server, each returning timings.

Times are milliseconds on one clock per action, so a row reads "this happened N ms
after that"; the CLI prints them as a table or JSON.
"""

import asyncio
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.handle import Handled, NotHandled
from wyoming.info import Describe
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from .connection import ClientConnection

CHUNK_MS = 100


class ClientError(Exception):
    """The server answered with `error`, closed early, or sent something unexpected."""


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


def _check(event, expected: str) -> None:
    if event is None:
        raise ClientError(f"server closed the connection while waiting for {expected}")
    if event.type == "error":
        raise ClientError(f"server error: {event.data.get('text')} ({event.data.get('code')})")


async def describe(uri: str) -> Result:
    """Ask a server what it offers."""
    result = Result("describe")
    client = await ClientConnection.open(uri)
    try:
        await client.send(Describe().event())
        while True:
            event = await client.read(timeout=10)
            _check(event, "info")
            if event.type == "info":
                result.mark("info", client.clock())
                result.values["info"] = event.data
                return result
    finally:
        await client.close()


def read_wav(path: Path) -> tuple[AudioStart, bytes]:
    """PCM and its format from a WAV file."""
    with wave.open(str(path), "rb") as wav:
        start = AudioStart(rate=wav.getframerate(), width=wav.getsampwidth(), channels=wav.getnchannels())
        return start, wav.readframes(wav.getnframes())


async def transcribe(uri: str, wav_path: Path, realtime: bool = True, language: Optional[str] = None) -> Result:
    """Stream a WAV file to an STT server, collecting partials and the transcript."""
    result = Result("transcribe")
    start, audio = read_wav(wav_path)
    step = start.rate * start.width * start.channels * CHUNK_MS // 1000
    client = await ClientConnection.open(uri)
    partials: list[dict[str, Any]] = []
    try:
        reading = asyncio.create_task(_read_transcript(client, result, partials))
        await client.send(Transcribe(language=language).event())
        await client.send(start.event())
        for offset in range(0, len(audio), step):
            chunk = AudioChunk(rate=start.rate, width=start.width, channels=start.channels, audio=audio[offset : offset + step])
            await client.send(chunk.event())
            if realtime:
                await asyncio.sleep(CHUNK_MS / 1000)
            if reading.done():
                break
        await client.send(AudioStop().event())
        stopped = client.clock()
        result.mark("audio-stop sent", stopped)
        text = await reading
        result.values.update(text=text, partials=partials, audio_s=round(len(audio) / (step * 1000 / CHUNK_MS), 2))
        result.values["audio_stop_to_transcript_ms"] = round(dict(result.milestones)["transcript"] - stopped, 1)
        return result
    finally:
        await client.close()


async def _read_transcript(client: ClientConnection, result: Result, partials: list) -> str:
    while True:
        event = await client.read()
        _check(event, "transcript")
        if event.type == "transcript-chunk":
            result.mark("first partial", client.clock())
            partials.append({"ms": round(client.clock(), 1), "text": event.data.get("text", "")})
        elif Transcript.is_type(event.type):
            result.mark("transcript", client.clock())
            return Transcript.from_event(event).text


async def synthesize(uri: str, text: str, out: Optional[Path], stream: bool = False, voice: Optional[str] = None) -> Result:
    """Speak a text on a TTS server, optionally streamed word by word, into a WAV file."""
    from wyoming.tts import SynthesizeVoice

    result = Result("synthesize")
    chosen = SynthesizeVoice(name=voice) if voice else None
    client = await ClientConnection.open(uri)
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


async def _collect_audio(client: ClientConnection, result: Result, until: str) -> tuple[bytes, int]:
    parts: list[bytes] = []
    rate = 0
    while True:
        event = await client.read()
        _check(event, until)
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
                 mode: Optional[str] = None, language: str = "en") -> Result:
    """Ask a conversation agent, as Home Assistant does (`transcript` → `handled`)."""
    result = Result("handle")
    context = {k: v for k, v in {"device_id": device_id, "conversation_id": conversation_id, "mode": mode}.items() if v}
    client = await ClientConnection.open(uri)
    chunks: list[dict[str, Any]] = []
    try:
        await client.send(Transcript(text=text, context=context or None, language=language).event())
        streaming = False
        while True:
            event = await client.read()
            _check(event, "handled")
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
            elif event.type == "handled-stop":
                result.mark("handled-stop", client.clock())
                return result
    finally:
        await client.close()
