"""The Wyoming side of the STT server: `transcribe`, `audio-start`, `audio-chunk`*,
`audio-stop` → `transcript` (always), with `transcript-start`/`-chunk` partials while
the audio streams and `transcript-stop` after the final `transcript`.

Input rules:
- An `audio-chunk` before `transcribe`/`audio-start` starts an utterance implicitly,
  in the chunk's own format (Home Assistant's servers accept this too).
- Every chunk is converted from the format in its own header; when the format changes
  mid-stream the converter is simply re-created: the chunk header is authoritative.
- Partial frames and odd byte counts carry over to the next chunk; empty chunks are fine.
- Audio beyond `max_utterance_s` is refused with `error` "too-long" before it is converted.

Errors: a mistaken request (bad `transcribe`, `audio-stop` without audio, a second
`audio-start`) gets an `error` and the connection stays usable. When an utterance fails
(unusable format, too long, busy, engine failure) the client gets one `error`, the rest
of that utterance's audio is dropped, and the connection is closed at its `audio-stop`
(or at once when the failure comes after it): Home Assistant 2025.4 ignores `error`
and reads until a `transcript` or the end of the connection.

With `requires_external_vad: false` the server ends the utterance itself: the
transcript is sent as soon as the endpointer hears the end of speech; later audio and
the `audio-stop` are then accepted and ignored.
"""

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Optional

from wyoming.asr import Transcribe as TranscribeEvent
from wyoming.audio import AudioChunk, AudioStart
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong

from ..audio import PcmConverter, PcmFormat
from ..config import SttSettings
from ..protocol.server import ClientGone, Connection, EventHandler
from .endpoint import Endpointer, silence_for
from .engine import SAMPLE_RATE, SttBusyError, SttEngine, SttError, SttRequest
from .language import supports
from .partials import TranscriptStream
from .report import record_error, record_transcript
from .request import BadRequest, Transcribe, parse_format, parse_transcribe
from .utterance import Utterance

_LOGGER = logging.getLogger(__name__)


@dataclass
class Turn:
    """One utterance on this connection."""

    transcribe: Transcribe
    stream: TranscriptStream
    fmt: Optional[PcmFormat] = None
    converter: Optional[PcmConverter] = None
    utterance: Optional[Utterance] = None
    seconds: float = 0.0
    failed: bool = False
    answered: bool = False
    started: float = field(default_factory=time.perf_counter)
    stopped: Optional[float] = None


class SttHandler(EventHandler):
    """Serves one client connection."""

    def __init__(self, connection: Connection, engine: SttEngine, settings: SttSettings, info: Event) -> None:
        super().__init__(connection)
        self.engine = engine
        self.settings = settings
        self.info = info
        self.languages = engine.languages()
        self.pending: Optional[Transcribe] = None
        self.turn: Optional[Turn] = None
        self.finishing: Optional[asyncio.Task] = None

    def busy(self) -> bool:
        return self.turn is not None or (self.finishing is not None and not self.finishing.done())

    async def handle_event(self, event: Event) -> bool:
        try:
            return await self._dispatch(event)
        except BadRequest as err:
            await self._refuse(err)
            return True

    async def _dispatch(self, event: Event) -> bool:
        kind = event.type
        if Describe.is_type(kind):
            await self.write_event(self.info)
        elif Ping.is_type(kind):
            await self.write_event(Pong(text=event.data.get("text")).event())
        elif kind in ("transcribe", "audio-start", "audio-chunk", "audio-stop"):
            if self.finishing is not None:  # keep the order: the previous transcript goes out first
                await asyncio.gather(self.finishing, return_exceptions=True)
            if TranscribeEvent.is_type(kind):
                await self._transcribe(event.data)
            elif AudioStart.is_type(kind):
                await self._audio_start(event.data)
            elif AudioChunk.is_type(kind):
                await self._audio_chunk(event)
            else:
                return await self._audio_stop()
        return True

    async def _transcribe(self, data: dict) -> None:
        parsed = parse_transcribe(data)
        if not supports(self.languages, parsed.request.language):
            raise BadRequest(f"language {parsed.request.language!r} is not supported", "unsupported-language")
        self._check_no_open_turn("transcribe")
        self.pending = parsed

    async def _audio_start(self, data: dict) -> None:
        self._check_no_open_turn("audio-start")
        turn = self._new_turn()
        try:
            turn.fmt = parse_format(data)
        except BadRequest as err:
            await self._fail(turn, err)
            return
        await self._open(turn)

    def _check_no_open_turn(self, what: str) -> None:
        """A new request may replace a finished or failed utterance, not a running one."""
        if self.turn is not None and not (self.turn.failed or self.turn.answered):
            raise BadRequest(f"{what} inside an utterance: send audio-stop first", "utterance-open")
        self.turn = None

    def _new_turn(self) -> Turn:
        transcribe, self.pending = self.pending or Transcribe(SttRequest()), None
        self.turn = Turn(transcribe, TranscriptStream(self.write_event, transcribe.request.language))
        return self.turn

    async def _open(self, turn: Turn) -> None:
        settings, request = self.settings, turn.transcribe.request
        try:
            session = await self.engine.open(request, turn.stream.partial if settings.partials else None)
        except SttError as err:
            await self._fail(turn, _engine_problem(err))
            return
        endpointer = None
        if settings.early_decode_silence_ms or not settings.requires_external_vad:
            endpointer = Endpointer(settings.vad_aggressiveness)
        end_silence = silence_for(settings.endpoint_silence_ms, turn.transcribe.sensitivity)
        turn.utterance = Utterance(session, endpointer, settings.early_decode_silence_ms, end_silence)

    async def _audio_chunk(self, event: Event) -> None:
        turn = self.turn
        if turn is None:  # implicit start, in the chunk's own format
            turn = self._new_turn()
            await self._open(turn)
        if turn.failed or turn.answered or turn.utterance is None:
            return
        try:
            fmt = parse_format(event.data)
        except BadRequest as err:
            await self._fail(turn, err)
            return
        payload = event.payload or b""
        seconds = len(payload) / fmt.frame_bytes / fmt.rate
        if turn.seconds + seconds > self.settings.max_utterance_s:
            if not self.settings.requires_external_vad:
                self._answer(turn)  # we decide when speech ends: this long is the end
            else:
                await self._fail(turn, BadRequest(
                    f"utterance longer than {self.settings.max_utterance_s:g} s", "too-long"))
            return
        turn.seconds += seconds
        audio = b""
        if fmt != turn.fmt or turn.converter is None:
            if turn.converter is not None:  # the old format's last few ms, then the new one's
                audio = turn.converter.flush()
            turn.fmt, turn.converter = fmt, PcmConverter(fmt, SAMPLE_RATE)
        try:
            await turn.utterance.feed(audio + turn.converter.convert(payload))
        except SttError as err:
            await self._fail(turn, _engine_problem(err))
            return
        if not self.settings.requires_external_vad and turn.utterance.speech_ended:
            self._answer(turn)

    async def _audio_stop(self) -> bool:
        turn = self.turn
        if turn is None:
            raise BadRequest("audio-stop without audio-start or audio", "no-audio")
        self.turn = None
        if turn.failed:
            return False  # its error was sent; closing ends Home Assistant 2025.4's wait
        turn.stopped = time.perf_counter()
        if not turn.answered:
            if turn.converter is not None and turn.utterance is not None:
                try:  # the resampler's held-back end of the audio
                    await turn.utterance.feed(turn.converter.flush())
                except SttError as err:
                    await self._fail(turn, _engine_problem(err))
                    return False
            self._answer(turn)
        return True

    def _answer(self, turn: Turn) -> None:
        """Finish in a task, so a client that hangs up meanwhile cancels the decode."""
        turn.answered = True
        self.finishing = asyncio.create_task(self._finish(turn))
        self.finishing.add_done_callback(_log_bug)

    async def _finish(self, turn: Turn) -> None:
        assert turn.utterance is not None
        hang_up = False
        try:
            try:
                text = await turn.utterance.finish()
                await turn.stream.finish(text)
            except SttError as err:
                await self._fail(turn, _engine_problem(err))
                hang_up = self.turn is not turn  # audio-stop was the last word: nothing else will come
                return
            record_transcript(turn, text, self.connection.peer)
        except ClientGone:
            _LOGGER.info("client %s left before its transcript", self.connection.peer)
        finally:
            await turn.utterance.close()
            if hang_up:
                self.connection.writer.close()

    async def _fail(self, turn: Turn, err: BadRequest) -> None:
        """One `error` for the utterance; its resources go now, its audio is ignored."""
        turn.failed = True
        await turn.stream.close()
        if turn.utterance is not None and not turn.answered:
            await turn.utterance.close()
        await self._refuse(err)

    async def _refuse(self, err: BadRequest) -> None:
        record_error(err.code)
        _LOGGER.info("refused request from %s: %s", self.connection.peer, err)
        await self.write_event(Error(str(err), err.code).event())

    async def disconnect(self) -> None:
        if self.finishing is not None and not self.finishing.done():
            _LOGGER.info("client %s left before its transcript: decoding cancelled", self.connection.peer)
            self.finishing.cancel()
            await asyncio.gather(self.finishing, return_exceptions=True)
        turn, self.turn = self.turn, None
        if turn is not None and not turn.answered:
            await turn.stream.close()
            if turn.utterance is not None and not turn.failed:
                await turn.utterance.close()


def _log_bug(task: asyncio.Task) -> None:
    """_finish handles every expected failure; anything else is a bug worth a traceback."""
    if not task.cancelled() and task.exception() is not None:
        _LOGGER.error("transcript task failed", exc_info=task.exception())


def _engine_problem(err: SttError) -> BadRequest:
    if isinstance(err, SttBusyError):
        return BadRequest(f"server busy: {err}; try again", "busy")
    return BadRequest(f"speech recognition failed: {err}", "stt-failed")
