"""pocketsphinx: cheap incremental English hypotheses while the audio streams.

Its words are often wrong ("turn on" is heard as "on on"), so it only supplies
partials; the final transcript comes from Whisper. A decoder costs ~95 MB and ~0.3 s
to create, so a fixed pool is built at start and reused; when every decoder is in
use an utterance simply gets no partials (SttBusyError from open()). pocketsphinx
holds the GIL while it decodes, so audio goes in 30 ms pieces from a worker thread
and the event loop gets its turn between pieces. A session that falls more than
MAX_LAG_BYTES behind stops producing partials instead of queueing audio: partials
must never delay the final transcript.
"""

import asyncio
import logging
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from ...metrics import RATIO_BUCKETS, REGISTRY
from ..engine import PartialCallback, SttBusyError, SttError, SttRequest
from ..language import base_language

_LOGGER = logging.getLogger(__name__)
_CPU_RATIO = REGISTRY.histogram(
    "nexus_stt_partials_cpu_ratio", "pocketsphinx CPU seconds per second of audio", RATIO_BUCKETS
)
PIECE_BYTES = 960  # 30 ms of 16 kHz 16-bit audio
MAX_LAG_BYTES = 64000  # 2 s of audio not yet decoded


def _new_decoder():
    from pocketsphinx import Decoder

    return Decoder(samprate=16000, loglevel="FATAL")


class SphinxEngine:
    """A pool of pocketsphinx decoders for English partials."""

    name = "pocketsphinx"

    def __init__(self, sessions: int) -> None:
        self.sessions = sessions
        self.executor = ThreadPoolExecutor(max(1, sessions), thread_name_prefix="sphinx")
        self._free: "queue.SimpleQueue" = queue.SimpleQueue()
        self.load_seconds: Optional[float] = None

    async def start(self) -> None:
        """Create every decoder now, so the first utterance does not wait for one."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            for decoder in await asyncio.gather(
                *(loop.run_in_executor(self.executor, _new_decoder) for _ in range(self.sessions))
            ):
                self._free.put(decoder)
        except Exception as err:  # pocketsphinx raises RuntimeError on a bad model
            raise SttError(f"cannot load pocketsphinx: {err}") from err
        self.load_seconds = time.perf_counter() - started
        _LOGGER.info("%d pocketsphinx decoder(s) ready in %.2f s", self.sessions, self.load_seconds)

    def languages(self) -> list[str]:
        """Only the bundled US English model."""
        return ["en"]

    async def open(self, request: SttRequest, on_partial: Optional[PartialCallback] = None) -> "SphinxSession":
        """A session on a free decoder; SttBusyError when all are in use."""
        if base_language(request.language) not in (None, "en"):
            raise SttError(f"pocketsphinx knows only English, not {request.language!r}")
        try:
            decoder = self._free.get_nowait()
        except queue.Empty:
            raise SttBusyError("every pocketsphinx decoder is in use") from None
        return SphinxSession(self, decoder, on_partial)

    @property
    def available(self) -> int:
        """Decoders free now."""
        return self._free.qsize()

    def release(self, decoder) -> None:
        """Give a decoder back to the pool (thread-safe)."""
        self._free.put(decoder)

    async def close(self) -> None:
        """Stop the worker threads."""
        self.executor.shutdown(wait=False, cancel_futures=True)


class SphinxSession:
    """One utterance on one pooled decoder; feed() never waits for decoding."""

    def __init__(self, engine: SphinxEngine, decoder, on_partial: Optional[PartialCallback]) -> None:
        self.engine = engine
        self.decoder = decoder
        self.on_partial = on_partial
        self.hypothesis = ""
        self.cpu_seconds = 0.0
        self.audio_bytes = 0
        self._pending = bytearray()
        self._worker: Optional[asyncio.Task] = None
        self._started = False
        self._closed = False
        self._released = False
        self.lagging = False

    async def feed(self, audio: bytes) -> None:
        """Queue audio for the decoder thread; give up partials if it falls behind."""
        if self._closed or self.lagging:
            return
        self._pending += audio
        if len(self._pending) > MAX_LAG_BYTES:
            _LOGGER.info("pocketsphinx is %d bytes behind; no more partials for this utterance", len(self._pending))
            self.lagging = True
            self._pending.clear()
            return
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending and not self._closed:
                chunk = bytes(self._pending)
                self._pending.clear()
                text = await loop.run_in_executor(self.engine.executor, self._process, chunk)
                if text != self.hypothesis and not self._closed:
                    self.hypothesis = text
                    if self.on_partial is not None and text:
                        self.on_partial(text)
        finally:
            if self._closed:
                self._release()

    def _process(self, chunk: bytes) -> str:
        """Decoder thread: decode 30 ms at a time, return the current best hypothesis."""
        started = time.thread_time()
        if not self._started:
            self.decoder.start_utt()
            self._started = True
        for offset in range(0, len(chunk), PIECE_BYTES):
            self.decoder.process_raw(chunk[offset:offset + PIECE_BYTES], False, False)
        hyp = self.decoder.hyp()
        self.cpu_seconds += time.thread_time() - started
        self.audio_bytes += len(chunk)
        return hyp.hypstr if hyp is not None else ""

    async def transcribe(self) -> str:
        """The latest hypothesis (pocketsphinx text is a preview, not a final transcript)."""
        return self.hypothesis

    async def close(self) -> None:
        """Stop decoding; the decoder returns to the pool once its thread is idle."""
        if self._closed:
            return
        self._closed = True
        self._pending.clear()
        if self._worker is None or self._worker.done():
            self._release()

    def _release(self) -> None:
        if self._released:
            return
        self._released = True
        if self.audio_bytes:
            _CPU_RATIO.observe(self.cpu_seconds / (self.audio_bytes / 32000))
        try:
            self.engine.executor.submit(self._end_utterance)
        except RuntimeError:  # the engine is shutting down
            pass

    def _end_utterance(self) -> None:
        try:
            if self._started:
                self.decoder.end_utt()
        finally:
            self.engine.release(self.decoder)
