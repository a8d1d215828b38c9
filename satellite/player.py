"""Plays replies one after another on a sink, converting each to the sink's format.

Audio is pushed as it arrives (Home Assistant sends a whole reply at once, our TTS
sends it sentence by sentence); each stream reports when it was heard or cut off.
Memory is bounded whatever the wire sends: one stream plays, at most MAX_WAITING wait
(more are refused with PlayerFull), and each holds at most MAX_STREAM_S of audio.
"""

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from nexus_wyoming.audio import PcmConverter, PcmFormat

from .speaker import Sink

_LOGGER = logging.getLogger(__name__)
MAX_STREAM_S = 120.0  # a reply or announcement longer than this is cut
MAX_WAITING = 3  # streams queued behind the one playing
SLICE_BYTES = 2048  # 1024 samples


class PlayerFull(Exception):
    """Too many streams are waiting: this one is refused, never buffered."""


@dataclass
class Playback:
    """One stream of audio: fed with `write`, closed with `end`, awaited with `done`."""

    format: PcmFormat
    label: str = "reply"
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    first_heard: Optional[float] = None
    queued: int = 0
    ended: bool = False
    overflowed: bool = False

    @property
    def max_bytes(self) -> int:
        """MAX_STREAM_S of this stream's format."""
        return int(MAX_STREAM_S * self.format.rate * self.format.width * self.format.channels)

    def write(self, pcm: bytes) -> None:
        """Queue audio in this stream's format (bounded: beyond MAX_STREAM_S it is dropped, logged once)."""
        if self.ended or not pcm:
            return
        if self.queued + len(pcm) > self.max_bytes:
            if not self.overflowed:
                _LOGGER.warning("%s: longer than %.0f s; dropping the rest", self.label, MAX_STREAM_S)
            self.overflowed = True
            return
        self.queued += len(pcm)
        self.queue.put_nowait(pcm)

    def end(self) -> None:
        """No more audio will come."""
        if not self.ended:
            self.ended = True
            self.queue.put_nowait(None)


class Player:
    """One speaker, one stream at a time, in order; `stop` cuts everything (barge-in)."""

    def __init__(self, sink: Optional[Sink], volume: float = 1.0) -> None:
        self.sink = sink
        self.volume = volume
        self._streams: asyncio.Queue[Playback] = asyncio.Queue()
        self._current: Optional[Playback] = None
        self._task: Optional[asyncio.Task] = None
        self._generation = 0
        self.last_played = float("-inf")  # monotonic end of the last stream, however short

    @property
    def playing(self) -> bool:
        """True while a stream is playing or waiting to."""
        return self._current is not None or not self._streams.empty()

    def start(self, fmt: PcmFormat, label: str = "reply") -> Playback:
        """A new stream, played after the ones before it; PlayerFull when MAX_WAITING already wait."""
        if self._streams.qsize() >= MAX_WAITING:
            raise PlayerFull(f"{MAX_WAITING} streams are already waiting to play")
        playback = Playback(fmt, label)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="player")
        self._streams.put_nowait(playback)
        return playback

    def play(self, fmt: PcmFormat, pcm: bytes, label: str) -> Playback:
        """A whole clip (a tone) as one stream; skipped (reported not heard) when too many wait."""
        try:
            playback = self.start(fmt, label)
        except PlayerFull as err:
            _LOGGER.warning("%s not played: %s", label, err)
            playback = Playback(fmt, label)
            self._finish(playback, heard=False)
            return playback
        playback.write(pcm)
        playback.end()
        return playback

    async def stop(self) -> None:
        """Cut the current stream and drop the queued ones; each reports not heard."""
        self._generation += 1
        while not self._streams.empty():
            self._finish(self._streams.get_nowait(), heard=False)
        current = self._current
        if current is not None:
            current.end()
            self._finish(current, heard=False)  # reported now: the caller acts on it right away
            if self.sink is not None:
                await self.sink.abort()

    async def wait_idle(self, timeout: float) -> None:
        """Until nothing plays or is queued (at most `timeout` seconds)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.playing and loop.time() < deadline:
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        """Stop playing and release the sink."""
        await self.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.sink is not None:
            await self.sink.close()

    async def _run(self) -> None:
        while True:
            playback = await self._streams.get()
            self._current = playback
            generation = self._generation
            try:
                heard = await self._play(playback, generation)
            except Exception:  # noqa: BLE001 - a broken speaker must not stop the satellite
                _LOGGER.exception("playback of %s failed", playback.label)
                heard = False
            self._current = None
            self.last_played = time.monotonic()
            self._finish(playback, heard and generation == self._generation)

    async def _play(self, playback: Playback, generation: int) -> bool:
        if self.sink is None:
            while await playback.queue.get() is not None:
                pass
            return True
        converter = PcmConverter(playback.format, self.sink.rate)
        opened = False
        while (pcm := await playback.queue.get()) is not None:
            if generation != self._generation:
                return False
            if not opened:
                await self.sink.open()
                opened = True
            audio = converter.convert(pcm)
            if self.volume != 1.0:
                audio = _scaled(audio, self.volume)
            for offset in range(0, len(audio), SLICE_BYTES):  # small slices: barge-in cuts within ~50 ms
                if generation != self._generation:
                    return False
                if playback.first_heard is None:
                    playback.first_heard = time.monotonic() + self.sink.delay_s
                    _LOGGER.debug("%s: first sound at monotonic %.3f (written + %.0f ms device delay)",
                                  playback.label, playback.first_heard, self.sink.delay_s * 1000)
                await self.sink.write(audio[offset:offset + SLICE_BYTES])
        if generation != self._generation:
            return False
        if opened:
            tail = converter.flush()  # the resampler's held-back last few ms
            if tail:
                await self.sink.write(_scaled(tail, self.volume) if self.volume != 1.0 else tail)
            await self.sink.finish()
        return generation == self._generation

    @staticmethod
    def _finish(playback: Playback, heard: bool) -> None:
        if not playback.done.done():
            playback.done.set_result(heard)


def _scaled(pcm: bytes, volume: float) -> bytes:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) * volume
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()
