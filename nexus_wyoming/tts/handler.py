"""The Wyoming side of the TTS server: `synthesize` and synthesize streaming.

Text is cut into sentences (streaming) and then into short synthesis units: the first
unit is kept short so audio starts early, and no unit is long enough to blow up the
voice model's memory. Every request ends with `audio-stop` (a stream also with
`synthesize-stopped`), also with nothing to say and at shutdown; text the server has
no room for is refused with error `busy`.
"""

import asyncio
import logging
import socket
import time
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from ..config import TtsSettings
from ..metrics import REGISTRY, RATIO_BUCKETS, log_request
from ..protocol.server import Connection, EventHandler
from ..status import BOARD
from .engine import TtsEngine, TtsError, UnknownVoiceError, VoiceRequest
from .scheduler import CURRENT_REQUEST, Busy, PendingText, Reservation
from .sentences import SentenceBuffer, split_sentences
from .speech import Speech, SpeechStats
from .units import MIN_CLAUSE_CHARS, speakable, split_units

_LOGGER = logging.getLogger(__name__)
_FIRST_AUDIO = REGISTRY.histogram("nexus_tts_first_audio_seconds", "Request to first audio chunk")
_TOTAL = REGISTRY.histogram("nexus_tts_total_seconds", "Request to last audio chunk")
_RTF = REGISTRY.histogram("nexus_tts_real_time_factor", "Synthesis time per audio second", RATIO_BUCKETS)
_ERRORS = REGISTRY.counter("nexus_tts_errors_total", "Requests answered with an error")
_MAX_NAME_CHARS = 128
#: Kernel send buffer per client (~6 s of 22 kHz audio; Linux doubles it): a client that
#: stops reading stalls our writes, and so its synthesis, within seconds, not after the
#: minutes of audio an auto-tuned buffer (up to 4 MB) would swallow first.
_SEND_BUFFER_BYTES = 256 * 1024


class BadRequest(Exception):
    """The client's request cannot be served; answered with an `error` event."""

    def __init__(self, text: str, code: str) -> None:
        super().__init__(text)
        self.code = code


def clean_text(value: Any) -> str:
    """Text from the wire without control characters (line breaks become spaces)."""
    if not isinstance(value, str):
        raise BadRequest("'text' must be a string", "bad-text")
    return "".join(
        " " if ch in "\r\n\t\v\f" else ch for ch in value if ch in "\r\n\t\v\f" or unicodedata.category(ch)[0] != "C"
    )


def voice_request(data: dict[str, Any]) -> VoiceRequest:
    """The `voice` object of a request, validated."""
    voice = data.get("voice") or {}
    if not isinstance(voice, dict):
        raise BadRequest("'voice' must be an object", "bad-voice")
    fields = {key: voice.get(key) for key in ("name", "speaker", "language")}
    for key, value in fields.items():
        if value is not None and (not isinstance(value, str) or len(value) > _MAX_NAME_CHARS):
            raise BadRequest(f"voice '{key}' must be a string of at most {_MAX_NAME_CHARS} characters", "bad-voice")
    return VoiceRequest(**fields)


@dataclass
class _Stream:
    """An open synthesize-start … synthesize-stop stream."""

    voice: VoiceRequest
    context: Optional[dict]
    sentences: SentenceBuffer
    queue: asyncio.Queue
    stats: SpeechStats
    reservation: Reservation
    worker: Optional[asyncio.Task] = None
    chars: int = 0
    queued: bool = False


class TtsHandler(EventHandler):
    """Serves one client connection."""

    def __init__(self, connection: Connection, engine: TtsEngine, settings: TtsSettings, info: Event,
                 pending: PendingText) -> None:
        super().__init__(connection)
        self.engine = engine
        self.settings = settings
        self.info = info
        self.pending = pending
        self.stream: Optional[_Stream] = None
        self._wrapping_up = False
        sock = connection.writer.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER_BYTES)

    def busy(self) -> bool:
        return self.stream is not None

    def stopping(self) -> None:
        """Shutdown: end after the unit being spoken, with audio-stop (and synthesize-stopped)."""
        self._wrapping_up = True
        if self.stream is not None:
            self.stream.queue.put_nowait(None)  # wakes an idle stream worker

    async def handle_event(self, event: Event) -> bool:
        try:
            return await self._dispatch(event)
        except BadRequest as err:
            await self._refuse(err)
            return True

    async def _refuse(self, err: BadRequest) -> None:
        _ERRORS.inc(code=err.code)
        _LOGGER.info("refused request from %s: %s", self.connection.peer, err)
        if err.code in ("synthesis-failed", "busy"):  # ours, not the client's: the status page shows it
            BOARD.record("tts", ok=False, error=err.code)
        await self.write_event(Error(str(err), err.code).event())

    async def _dispatch(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(self.info)
        elif Ping.is_type(event.type):
            await self.write_event(Pong(text=event.data.get("text")).event())
        elif SynthesizeStart.is_type(event.type):
            await self._start_stream(event.data)
        elif SynthesizeChunk.is_type(event.type):
            await self._stream_text(event.data)
        elif SynthesizeStop.is_type(event.type):
            await self._stop_stream()
        elif Synthesize.is_type(event.type) and self.stream is None:
            # Inside a stream, `synthesize` repeats the whole text for old servers: ignored.
            await self._synthesize(event.data)
        return True

    async def _synthesize(self, data: dict[str, Any]) -> None:
        text = clean_text(data.get("text")).strip()
        voice = voice_request(data)
        if not text:
            raise BadRequest("text is empty", "empty-text")
        if len(text) > self.settings.max_text_chars:
            raise BadRequest(f"text has {len(text)} characters; the limit is {self.settings.max_text_chars}", "too-long")
        stats = SpeechStats()
        reservation = Reservation(self.pending, stats.ahead_s)
        _reserve(reservation, len(text))
        CURRENT_REQUEST.set(reservation)
        try:
            speech = Speech(self.write_event, self.settings.samples_per_chunk, stats)
            await self._speak(speech, self._units(split_sentences(text), True, reservation), voice)
        finally:
            reservation.close()
        self._record("synthesize", stats, data.get("context"), voice)

    async def _start_stream(self, data: dict[str, Any]) -> None:
        if self.stream is not None:
            raise BadRequest("a synthesize stream is already open", "stream-open")
        voice = voice_request(data)
        context = data.get("context") if isinstance(data.get("context"), dict) else None
        stats = SpeechStats()
        stream = _Stream(voice, context, SentenceBuffer(), asyncio.Queue(), stats, Reservation(self.pending, stats.ahead_s))
        stream.worker = asyncio.create_task(self._speak_stream(stream))
        self.stream = stream

    async def _stream_text(self, data: dict[str, Any]) -> None:
        stream = self.stream
        if stream is None:
            raise BadRequest("synthesize-chunk without synthesize-start", "no-stream")
        text = clean_text(data.get("text"))
        if stream.chars == 0 and text.strip():
            stream.stats.started = time.perf_counter()  # latency counts from the first text
        stream.chars += len(text)
        if stream.chars > self.settings.max_text_chars:
            await self._abort_stream()
            raise BadRequest(f"streamed text exceeds {self.settings.max_text_chars} characters", "too-long")
        try:
            _reserve(stream.reservation, len(text))
        except BadRequest:
            await self._abort_stream()
            raise
        sentences = stream.sentences.add(text)
        if not (sentences or stream.queued) and self.settings.first_unit_chars:
            opening = stream.sentences.take_opening(MIN_CLAUSE_CHARS, self.settings.first_unit_chars)
            sentences = [opening] if opening else []
        for sentence in sentences:
            self._enqueue(stream, sentence)

    async def _stop_stream(self) -> None:
        stream = self.stream
        if stream is None:
            raise BadRequest("synthesize-stop without synthesize-start", "no-stream")
        for sentence in stream.sentences.flush():
            self._enqueue(stream, sentence)
        self._enqueue(stream, None)
        try:
            await stream.worker
        finally:
            self.stream = None

    @staticmethod
    def _enqueue(stream: _Stream, sentence: Optional[str]) -> None:
        """Queue a sentence (None ends the stream); re-raise if the worker died (client gone).

        The queue needs no size limit: all it holds is text, capped by max_text_chars
        and by the server's PendingText, and reading on while synthesis runs is what
        lets us see limits and hang-ups.
        """
        if stream.worker.done():
            stream.worker.result()
        stream.queue.put_nowait(sentence)
        stream.queued = True

    async def _speak_stream(self, stream: _Stream) -> None:
        """Speak each sentence as its own audio block as soon as it is complete, then end the stream.

        After a failure the rest of the stream is read and dropped, so the client
        gets one `error` and still its `synthesize-stopped`. At shutdown the stream
        ends after the unit being spoken, and so does the connection.
        """
        first, failed, stats = True, False, stream.stats
        CURRENT_REQUEST.set(stream.reservation)
        try:
            while not self._wrapping_up and (sentence := await stream.queue.get()) is not None:
                if failed or not speakable(sentence):
                    stream.reservation.spend(len(sentence))
                    continue
                speech = Speech(self.write_event, self.settings.samples_per_chunk, stats)
                failed = not await self._speak(speech, self._units([sentence], first, stream.reservation),
                                               stream.voice)
                first = False
            if stats.blocks == 0:  # every stream ends with audio-stop, even with nothing to say
                await Speech(self.write_event, self.settings.samples_per_chunk, stats).finish()
            await self.write_event(SynthesizeStopped().event())
        finally:
            stream.reservation.close()
        self._record("synthesize-stream", stats, stream.context, stream.voice)
        if self._wrapping_up:
            self.stream = None
            self.connection.close()

    async def _speak(self, speech: Speech, units, voice: VoiceRequest) -> bool:
        """Speak units as one block; False after an engine failure (told, block closed)."""
        try:
            await speech.speak(self.engine, units, voice)
        except UnknownVoiceError as err:  # the first unit's: nothing was sent yet
            raise BadRequest(str(err), "unknown-voice") from err
        except TtsError as err:
            _LOGGER.error("synthesis failed for %s: %s", self.connection.peer, err)
            speech.stats.error = "synthesis-failed"
            await self._refuse(BadRequest(f"synthesis failed: {err}", "synthesis-failed"))
            await speech.close()
            return False
        await speech.finish()
        return True

    def _units(self, sentences: list[str], first: bool, reservation: Reservation) -> Iterator[str]:
        """Speakable synthesis units, lazily (a huge text is never split at once); none after shutdown began."""
        for sentence in sentences:
            first_max = (self.settings.first_unit_chars or None) if first else None
            for unit in split_units(sentence, self.settings.max_unit_chars, first_max):
                if self._wrapping_up:
                    return
                if speakable(unit):
                    first = False
                    yield unit
                reservation.spend(len(unit))

    async def _abort_stream(self) -> None:
        if self.stream is not None:
            self.stream.worker.cancel()
            await asyncio.gather(self.stream.worker, return_exceptions=True)
            self.stream = None

    async def disconnect(self) -> None:
        await self._abort_stream()

    def _record(self, kind: str, stats: SpeechStats, context: Any, voice: VoiceRequest) -> None:
        engine = ",".join(sorted(stats.engines)) or "none"
        if stats.first_audio_s is not None:
            _FIRST_AUDIO.observe(stats.first_audio_s, kind=kind, engine=engine)
        total = time.perf_counter() - stats.started
        _TOTAL.observe(total, kind=kind, engine=engine)
        if stats.real_time_factor is not None:
            _RTF.observe(stats.real_time_factor, engine=engine)
        context = context if isinstance(context, dict) else {}
        log_request(
            "tts",
            mode=kind,
            peer=self.connection.peer,
            device_id=_short_str(context.get("device_id") or context.get("satellite_id")),
            conversation_id=_short_str(context.get("conversation_id")),
            voice=voice.name,
            engine=engine,
            chars=stats.chars,
            first_audio_ms=round(stats.first_audio_s * 1000, 1) if stats.first_audio_s is not None else None,
            total_ms=round(total * 1000, 1),
            audio_s=round(stats.audio_seconds, 2),
            rtf=round(stats.real_time_factor, 3) if stats.real_time_factor is not None else None,
        )
        BOARD.record("tts", total, ok=stats.error is None, error=stats.error, provider=engine,
                     device=context.get("device_id") or context.get("satellite_id"), mode=kind,
                     fallbacks=max(len(stats.engines) - 1, 0), chars=stats.chars,
                     stages={"tts_first_audio": stats.first_audio_s * 1000 if stats.first_audio_s is not None else None})


def _reserve(reservation: Reservation, chars: int) -> None:
    """Take room for more text in the server's PendingText, or refuse the request as busy."""
    try:
        reservation.add(chars)
    except Busy as err:
        raise BadRequest(f"server busy: {err}; try again", "busy") from err


def _short_str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and len(value) <= _MAX_NAME_CHARS and value.isprintable() else None
