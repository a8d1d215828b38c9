"""One utterance on an engine session, with the final decode started early.

While audio streams, the endpointer watches for the end of speech. After a short
silence (`early_silence_ms`, shorter than the silence that ends an utterance: it is
only a guess) the final decode starts at once on everything received so far, during
the silence the client is still sending. New speech discards that decode (its text
would miss the new words) and a later silence starts another. At the end, an early
result that no speech has overtaken is the transcript, usually finished already:
that is the latency win. Trailing silence after the early decode started does not
invalidate it.
"""

import asyncio
import logging
import time
from typing import Optional

from .endpoint import Endpointer
from .engine import SttError, SttSession

_LOGGER = logging.getLogger(__name__)


class Utterance:
    """Feeds a session, decodes early at the end of speech, and finishes once."""

    def __init__(self, session: SttSession, endpointer: Optional[Endpointer], early_silence_ms: int = 0,
                 end_silence_ms: int = 500) -> None:
        self.session = session
        self.endpointer = endpointer
        self.early_silence_ms = early_silence_ms if endpointer is not None else 0
        self.end_silence_ms = end_silence_ms
        self._early: Optional[asyncio.Task] = None
        self._early_bursts = -1
        self.early_started_at: Optional[float] = None
        self.early_done_at: Optional[float] = None
        self.used_early = False
        self.early_decodes = 0

    @property
    def speech_ended(self) -> bool:
        """The endpointer heard speech followed by the silence that ends an utterance."""
        return self.endpointer is not None and self.endpointer.silent_for(self.end_silence_ms)

    async def feed(self, audio: bytes) -> None:
        """Give audio to the engine and react to the end (or return) of speech."""
        await self.session.feed(audio)
        if self.endpointer is None:
            return
        self.endpointer.feed(audio)
        if self._early is not None and self._early_bursts != self.endpointer.bursts:
            _LOGGER.debug("speech resumed; discarding the early decode")
            self._discard_early()
        if self.early_silence_ms and self._early is None and self.endpointer.silent_for(self.early_silence_ms):
            self._start_early()

    def _start_early(self) -> None:
        assert self.endpointer is not None
        self._early_bursts = self.endpointer.bursts
        self.early_started_at = time.perf_counter()
        self.early_decodes += 1
        self._early = asyncio.create_task(self.session.transcribe())
        self._early.add_done_callback(self._early_done)

    def _early_done(self, task: asyncio.Task) -> None:
        if task is self._early:
            self.early_done_at = time.perf_counter()
        if not task.cancelled():
            task.exception()  # seen here; finish() reports what matters

    def _discard_early(self) -> None:
        if self._early is not None:
            self._early.cancel()
            self._early = None
            self.early_started_at = self.early_done_at = None

    async def finish(self) -> str:
        """The transcript: the early decode when still valid, else a decode now."""
        early = self._early
        if early is not None and self.endpointer is not None and self._early_bursts == self.endpointer.bursts:
            try:
                text = await asyncio.shield(early)
            except SttError as err:
                _LOGGER.info("early decode failed (%s); decoding again", err)
            else:
                self.used_early = True
                return text
        self._discard_early()
        return await self.session.transcribe()

    async def close(self) -> None:
        """Cancel any decode and close the session."""
        early = self._early
        self._discard_early()
        if early is not None:
            await asyncio.gather(early, return_exceptions=True)
        await self.session.close()
