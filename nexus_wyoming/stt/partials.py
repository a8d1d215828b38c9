"""The streamed side of a transcript: `transcript-start`, `transcript-chunk`*, then the
compatibility `transcript` and `transcript-stop`.

In the Wyoming spec a `transcript-chunk` carries a *part* of the transcript (clients
append them), but engines report whole hypotheses that may still change their last
words. A word is therefore sent once two consecutive hypotheses agree on it, and never
taken back; the final `transcript` (always sent, the only event Home Assistant 2025.4
reads) is authoritative. Partials arrive from engines through a non-blocking callback;
a writer task sends them in order, merging whatever piles up behind a slow client.
"""

import asyncio
import time
from typing import Awaitable, Callable, Optional

from wyoming.asr import Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.event import Event

Write = Callable[[Event], Awaitable[None]]


class StablePrefix:
    """Turns revisable hypotheses into append-only text."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self._previous: list[str] = []

    def update(self, hypothesis: str) -> str:
        """The text to append now ('' when nothing new is stable)."""
        words = hypothesis.split()
        agreed = 0
        for new, old in zip(words, self._previous):
            if new != old:
                break
            agreed += 1
        self._previous = words
        if agreed <= len(self.sent):
            return ""
        fresh = words[len(self.sent):agreed]
        self.sent.extend(fresh)
        return (" " if len(self.sent) > len(fresh) else "") + " ".join(fresh)


class TranscriptStream:
    """Everything this server says about one utterance's text, in order."""

    def __init__(self, write: Write, language: Optional[str]) -> None:
        self.write = write
        self.language = language
        self.started = False
        self.chunks = 0
        self.first_partial_at: Optional[float] = None
        self._stable = StablePrefix()
        self._pending = ""
        self._writer: Optional[asyncio.Task] = None
        self._open = True

    def partial(self, hypothesis: str) -> None:
        """Engine callback: queue the newly stable words (never blocks)."""
        if not self._open:
            return
        delta = self._stable.update(hypothesis)
        if not delta:
            return
        self._pending += delta
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._send_pending())

    async def _send_pending(self) -> None:
        while self._pending:
            if not self.started:
                self.started = True
                await self.write(TranscriptStart(language=self.language).event())
            text, self._pending = self._pending, ""
            if self.first_partial_at is None:
                self.first_partial_at = time.perf_counter()
            self.chunks += 1
            await self.write(TranscriptChunk(text=text).event())

    async def finish(self, text: str) -> None:
        """Send the final `transcript` (always), then `transcript-stop` if a stream started."""
        self._open = False
        self._pending = ""
        if self._writer is not None:
            await self._writer
        await self.write(Transcript(text=text, language=self.language).event())
        if self.started:
            await self.write(TranscriptStop().event())

    async def close(self) -> None:
        """Stop sending partials (the client is gone or the utterance failed)."""
        self._open = False
        self._pending = ""
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
