"""Minimal asyncio Wyoming TTS and STT clients that timestamp the events a benchmark cares about."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import Any, Optional
from urllib.parse import urlparse

from wyoming.asr import Transcribe, Transcript, TranscriptChunk
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)


class WyomingError(Exception):
    """The server answered with an `error` event, closed early, or sent bad audio."""


@dataclass
class TtsResult:
    """Timings (seconds from the first text event sent) and audio totals of one request."""

    first_audio_s: Optional[float] = None
    done_s: Optional[float] = None
    audio_bytes: int = 0
    rate: Optional[int] = None
    width: Optional[int] = None
    channels: Optional[int] = None
    audio_starts: int = 0

    @property
    def audio_seconds(self) -> float:
        """Duration of the received PCM audio."""
        if not (self.rate and self.width and self.channels):
            return 0.0
        return self.audio_bytes / (self.rate * self.width * self.channels)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output, audio seconds included."""
        return {**asdict(self), "audio_seconds": self.audio_seconds}


def parse_tcp_uri(uri: str) -> tuple[str, int]:
    """Split `tcp://HOST:PORT` into (host, port)."""
    parsed = urlparse(uri)
    if parsed.scheme != "tcp" or not parsed.hostname or not parsed.port:
        raise ValueError(f"expected tcp://HOST:PORT, got {uri!r}")
    return parsed.hostname, parsed.port


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close a connection without caring whether the peer already hung up."""
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


async def describe(uri: str, timeout: float = 5.0) -> Info:
    """Send `describe` on a fresh connection and return the server's `info`."""
    host, port = parse_tcp_uri(uri)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        await async_write_event(Describe().event(), writer)
        while True:
            event = await asyncio.wait_for(async_read_event(reader), timeout)
            if event is None:
                raise WyomingError("connection closed before info")
            if Info.is_type(event.type):
                return Info.from_event(event)
    finally:
        await _close(writer)


async def _read_audio(
    reader: asyncio.StreamReader, t0: list[float], result: TtsResult, end_type: str
) -> None:
    """Read events until `end_type`, filling `result`; `t0[0]` is the clock start."""
    while True:
        event: Optional[Event] = await async_read_event(reader)
        now = time.perf_counter()
        if event is None:
            raise WyomingError(f"connection closed before {end_type}")
        if Error.is_type(event.type):
            raise WyomingError(f"server error: {Error.from_event(event).text}")
        if AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
            result.audio_starts += 1
            result.rate, result.width, result.channels = start.rate, start.width, start.channels
        elif AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            if result.first_audio_s is None:
                result.first_audio_s = now - t0[0]
            result.audio_bytes += len(chunk.audio)
            result.rate = result.rate or chunk.rate
            result.width = result.width or chunk.width
            result.channels = result.channels or chunk.channels
        if event.type == end_type:
            result.done_s = now - t0[0]
            return


async def synthesize(uri: str, text: str, voice: Optional[str] = None) -> TtsResult:
    """One `synthesize` request; the clock starts just before the event is written."""
    host, port = parse_tcp_uri(uri)
    reader, writer = await asyncio.open_connection(host, port)
    result = TtsResult()
    try:
        event = Synthesize(text=text, voice=_voice(voice)).event()
        t0 = [time.perf_counter()]
        await async_write_event(event, writer)
        await _read_audio(reader, t0, result, AudioStop().event().type)
    finally:
        await _close(writer)
    return result


async def synthesize_streaming(
    uri: str, text: str, word_delay_s: float = 0.0, voice: Optional[str] = None
) -> TtsResult:
    """A streamed request: start, word chunks, compat `synthesize`, stop; clock starts at chunk 1."""
    host, port = parse_tcp_uri(uri)
    reader, writer = await asyncio.open_connection(host, port)
    result = TtsResult()
    words = text.split(" ")
    chunks = [words[0]] + [" " + word for word in words[1:]]
    t0 = [0.0]

    async def send() -> None:
        """Write the text events, pausing between words if asked to."""
        await async_write_event(SynthesizeStart(voice=_voice(voice)).event(), writer)
        for i, chunk in enumerate(chunks):
            if i == 0:
                t0[0] = time.perf_counter()
            elif word_delay_s > 0:
                await asyncio.sleep(word_delay_s)
            await async_write_event(SynthesizeChunk(text=chunk).event(), writer)
        await async_write_event(Synthesize(text=text, voice=_voice(voice)).event(), writer)
        await async_write_event(SynthesizeStop().event(), writer)

    sender = asyncio.create_task(send())
    try:
        await _read_audio(reader, t0, result, SynthesizeStopped().event().type)
        await sender
    finally:
        sender.cancel()
        await _close(writer)
    return result


def _voice(name: Optional[str]) -> Optional[SynthesizeVoice]:
    """Voice selector for requests, or None for the server's default voice."""
    return SynthesizeVoice(name=name) if name else None


# -- STT ------------------------------------------------------------------------


@dataclass
class SttResult:
    """One streamed utterance: final text and timings in seconds."""

    text: Optional[str] = None
    stop_to_transcript_s: Optional[float] = None
    """From `audio-stop` written to `transcript` read; negative if the transcript came first."""
    first_partial_s: Optional[float] = None
    """From the first `audio-chunk` written to the first `transcript-chunk` read."""
    partials: int = 0
    last_partial: str = ""
    audio_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)


async def transcribe_realtime(
    uri: str, pcm: bytes, language: str = "en", chunk_s: float = 0.1, silence_s: float = 0.7
) -> SttResult:
    """Stream 16 kHz mono 16-bit `pcm` plus trailing silence at real-time pace, as Home Assistant does.

    `transcribe`, `audio-start`, one `audio-chunk` per `chunk_s` on an absolute schedule,
    `audio-stop`; events are read concurrently so partials and early transcripts are timed.
    Any write failure is a failure, since Home Assistant's own write would fail too.
    """
    rate, width, channels = 16000, 2, 1
    step = int(rate * chunk_s) * width
    audio = pcm + bytes(int(rate * silence_s) * width)
    result = SttResult(audio_s=len(audio) / (rate * width))
    clock: dict[str, float] = {}
    host, port = parse_tcp_uri(uri)
    reader, writer = await asyncio.open_connection(host, port)

    async def send() -> None:
        """Write the request, the paced chunks and the stop."""
        await async_write_event(Transcribe(language=language).event(), writer)
        await async_write_event(AudioStart(rate, width, channels).event(), writer)
        start = time.perf_counter()
        for i, offset in enumerate(range(0, len(audio), step)):
            delay = start + i * chunk_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            clock.setdefault("first_chunk", time.perf_counter())
            chunk = AudioChunk(rate, width, channels, audio[offset:offset + step])
            await async_write_event(chunk.event(), writer)
        await async_write_event(AudioStop().event(), writer)
        clock["stop"] = time.perf_counter()

    async def receive() -> None:
        """Read until `transcript`, timing the first partial and the transcript."""
        while True:
            event = await async_read_event(reader)
            now = time.perf_counter()
            if event is None:
                raise WyomingError("connection closed before transcript")
            if Error.is_type(event.type):
                raise WyomingError(f"server error: {Error.from_event(event).text}")
            if TranscriptChunk.is_type(event.type):
                if result.first_partial_s is None and "first_chunk" in clock:
                    result.first_partial_s = now - clock["first_chunk"]
                result.partials += 1
                result.last_partial = TranscriptChunk.from_event(event).text
            elif Transcript.is_type(event.type):
                result.text = Transcript.from_event(event).text
                clock["transcript"] = now
                return

    sending, receiving = asyncio.create_task(send()), asyncio.create_task(receive())
    try:
        await asyncio.wait({sending, receiving}, return_when=asyncio.FIRST_EXCEPTION)
        for task in (receiving, sending):
            if task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        await asyncio.gather(sending, receiving)
    finally:
        for task in (sending, receiving):
            task.cancel()
        await _close(writer)
    result.stop_to_transcript_s = clock["transcript"] - clock["stop"]
    return result
