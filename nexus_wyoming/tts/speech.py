"""Turns synthesis units into one coherent Wyoming audio stream, with timing.

The first engine's audio fixes the stream format in `audio-start`; audio from a
fallback engine at another rate is converted to it, so the client hears one stream.
A block always ends with `audio-stop`, even with nothing to say: a client waits for it.
"""

import time
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Iterable, Optional

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event

from ..audio import PcmConverter, PcmFormat
from .engine import TtsAudio, TtsEngine, VoiceRequest

WriteEvent = Callable[[Event], Awaitable[None]]

#: The rate announced by a block with no samples when no audio fixed one (Piper's voices' rate).
EMPTY_BLOCK_RATE = 22050


@dataclass
class SpeechStats:
    """What one request cost, for metrics and the request log line."""

    started: float = field(default_factory=time.perf_counter)
    first_audio: Optional[float] = None
    audio_seconds: float = 0.0
    synthesis_seconds: float = 0.0
    chars: int = 0
    engines: set[str] = field(default_factory=set)
    blocks: int = 0  # audio-start … audio-stop blocks sent
    rate: Optional[int] = None  # of the last block, for an empty one after it
    error: Optional[str] = None  # a synthesis failure a stream's client was told of, for the status page

    @property
    def first_audio_s(self) -> Optional[float]:
        """Request start → first audio chunk sent."""
        return None if self.first_audio is None else self.first_audio - self.started

    def ahead_s(self) -> float:
        """Audio sent minus time elapsed: how long its listener could wait for more."""
        return self.audio_seconds - (time.perf_counter() - self.started)

    @property
    def real_time_factor(self) -> Optional[float]:
        """Synthesis time per second of audio (lower is faster)."""
        return self.synthesis_seconds / self.audio_seconds if self.audio_seconds else None


class Speech:
    """One `audio-start` … `audio-stop` block fed by any number of units."""

    def __init__(self, write: WriteEvent, samples_per_chunk: int, stats: SpeechStats) -> None:
        self.write = write
        self.samples_per_chunk = samples_per_chunk
        self.stats = stats
        self.rate: Optional[int] = None
        self._converter: Optional[PcmConverter] = None

    async def speak(self, engine: TtsEngine, units: Iterable[str], voice: VoiceRequest) -> None:
        """Synthesize each unit in order and send its audio as it is produced."""
        for unit in units:
            self.stats.chars += len(unit)
            began = time.perf_counter()
            # aclosing: a client that hangs up stops the engine now (Cartesia cancels), not at GC
            async with aclosing(engine.synthesize(unit, voice)) as pieces:
                async for piece in pieces:
                    self.stats.synthesis_seconds += time.perf_counter() - began
                    self.stats.engines.add(piece.engine)
                    await self._send(piece)
                    began = time.perf_counter()

    async def finish(self) -> None:
        """End the block with `audio-stop`; one without samples if nothing was said."""
        if self.rate is None:
            await self._start(self.stats.rate or EMPTY_BLOCK_RATE)
        elif self._converter is not None:
            await self._write_audio(self._converter.flush())  # the resampler's held-back end
        await self.close()

    async def close(self) -> None:
        """End the block if it started (after a failure): no client is left mid-stream."""
        self._converter = None
        if self.rate is not None:
            self.rate = None
            await self.write(AudioStop().event())

    async def _start(self, rate: int) -> None:
        self.rate = self.stats.rate = rate
        self.stats.blocks += 1
        await self.write(AudioStart(rate=rate, width=2, channels=1).event())

    async def _send(self, piece: TtsAudio) -> None:
        if self.rate is None:
            await self._start(piece.rate)
        audio = piece.audio
        source = PcmFormat(piece.rate, piece.width, piece.channels)
        if self._converter is not None and self._converter.source != source:  # another engine took over
            await self._write_audio(self._converter.flush())
            self._converter = None
        if source != PcmFormat(self.rate):
            if self._converter is None:
                self._converter = PcmConverter(source, self.rate)
            audio = self._converter.convert(audio)
        await self._write_audio(audio)

    async def _write_audio(self, audio: bytes) -> None:
        assert self.rate is not None
        self.stats.audio_seconds += len(audio) / (2 * self.rate)
        step = self.samples_per_chunk * 2
        for offset in range(0, len(audio), step):
            await self.write(
                AudioChunk(rate=self.rate, width=2, channels=1, audio=audio[offset : offset + step]).event()
            )
            if self.stats.first_audio is None:
                self.stats.first_audio = time.perf_counter()
