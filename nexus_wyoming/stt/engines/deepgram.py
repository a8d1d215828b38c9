"""Deepgram live streaming speech-to-text over one `/v1/listen` WebSocket per utterance.

Wire format (developers.deepgram.com: "Live Audio" API reference, "Finalize", "Close Stream",
"Audio Keep Alive", "Keyterm Prompting", "Keywords", "STT Troubleshooting WebSocket, NET, and
DATA Errors"): connect to `/v1/listen?model=..&encoding=linear16&sample_rate=16000&channels=1
&language=..&interim_results=..&endpointing=<ms>|false&smart_format=..&punctuate=..` plus one
`keyterm=` per term on Nova-3 (`keywords=` on older models) with `Authorization: Token <key>`;
a bad key is HTTP 401 at the handshake with a JSON `{err_code, err_msg, request_id}` body.
Audio goes up as binary frames (never an empty one: that ends the stream); controls are text
frames `{"type": "KeepAlive" | "Finalize" | "CloseStream"}`. Down come `Results` (the current
segment's text in `channel.alternatives[0].transcript`, `is_final` once it will not change,
`speech_final` at an endpoint, `from_finalize` when flushed by Finalize, `start`/`duration` for
the audio it covers), `Metadata` (after CloseStream), `SpeechStarted`, `UtteranceEnd` and
`Error` (`variant`, `description`); failures close the socket with a code and a reason such as
1011 `NET-0001` (no audio or KeepAlive for 10 s).
"""

import asyncio
import json
import logging
import re
import time
from email.utils import parsedate_to_datetime
from typing import Callable, Optional, Union
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.protocol import State

from ...config import DeepgramSttSettings
from ...throttle import ThrottledLog
from ..engine import SAMPLE_RATE, PartialCallback, SttError, SttRequest

_LOGGER = logging.getLogger(__name__)
_FRAME_LOG = ThrottledLog(_LOGGER)  # a broken server may send garbage in every frame

KEEPALIVE = json.dumps({"type": "KeepAlive"})
FINALIZE = json.dumps({"type": "Finalize"})
CLOSE_STREAM = json.dumps({"type": "CloseStream"})
#: How long close() waits for Deepgram's final Metadata and closing handshake.
CLOSE_TIMEOUT_S = 2.0
#: A transcript longer than this is not speech from one utterance: the server is broken.
MAX_TRANSCRIPT_CHARS = 20_000
MAX_MESSAGE_BYTES = 1024 * 1024
_LANGUAGE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,4}$")
_CLOSE_HINTS = {
    "NET-0000": "Deepgram produced no result in time",
    "NET-0001": "Deepgram received no audio or KeepAlive in time",
    "DATA-0000": "Deepgram could not decode the audio",
}


class DeepgramEngine:
    """Opens one Deepgram stream per utterance; the key never leaves the Authorization header."""

    name = "deepgram"

    def __init__(self, settings: DeepgramSttSettings, api_key: str) -> None:
        self._settings = settings
        self._api_key = api_key
        self._sessions: set["DeepgramSession"] = set()

    def languages(self) -> list[str]:
        """The configured languages (Nova-3 monolingual ones by default)."""
        return list(self._settings.languages)

    async def open(self, request: SttRequest, on_partial: Optional[PartialCallback] = None) -> "DeepgramSession":
        """Connect and return a session; SttError on a refused or unreachable server."""
        url = self._url(self._language(request.language), request.names)
        session = DeepgramSession(await self._connect(url), self._settings, on_partial, self._redact)
        self._sessions.add(session)
        session.on_closed = self._sessions.discard
        return session

    async def close(self) -> None:
        """Close every session still open (server shutdown)."""
        await asyncio.gather(*(s.close() for s in list(self._sessions)), return_exceptions=True)

    def _language(self, requested: Optional[str]) -> str:
        language = (requested or self._settings.language).replace("_", "-")
        if not _LANGUAGE.match(language):
            raise SttError(f"not a language tag: {language[:40]!r}")
        offered = {code.split("-")[0].lower() for code in self._settings.languages}
        if language.split("-")[0].lower() not in offered:
            raise SttError(f"Deepgram is not configured for language {language!r}")
        return language

    def _url(self, language: str, names: list[str]) -> str:
        settings = self._settings
        flag = {True: "true", False: "false"}
        params = [
            ("model", settings.model), ("encoding", "linear16"), ("sample_rate", str(SAMPLE_RATE)),
            ("channels", "1"), ("language", language),
            ("interim_results", flag[settings.interim_results]),
            ("endpointing", str(settings.endpointing_ms) if settings.endpointing_ms else "false"),
            ("smart_format", flag[settings.smart_format]), ("punctuate", flag[settings.punctuate]),
        ]
        nova3 = settings.model.startswith("nova-3")
        params += [("keyterm" if nova3 else "keywords", term)
                   for term in bias_terms(names, settings.max_terms, phrases=nova3)]
        return settings.url + ("&" if "?" in settings.url else "?") + urlencode(params)

    async def _connect(self, url: str) -> ClientConnection:
        where = self._settings.url
        try:
            return await connect(url, additional_headers={"Authorization": f"Token {self._api_key}"},
                                 open_timeout=self._settings.connect_timeout_s,
                                 close_timeout=CLOSE_TIMEOUT_S, max_size=MAX_MESSAGE_BYTES)
        except InvalidStatus as err:
            raise SttError(self._redact(_rejection(err)), retry_after_s=_retry_after(err.response)) from err
        except (OSError, TimeoutError, WebSocketException) as err:
            detail = str(err) or "timed out"
            raise SttError(self._redact(
                f"cannot connect to Deepgram at {where}: {type(err).__name__}: {detail}")) from err

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


class DeepgramSession:
    """One utterance: audio up, interim results out as partials, Finalize for the final text."""

    def __init__(self, ws: ClientConnection, settings: DeepgramSttSettings,
                 on_partial: Optional[PartialCallback], redact: Callable[[str], str]) -> None:
        self.on_closed = lambda session: None
        self._ws = ws
        self._settings = settings
        self._on_partial = on_partial
        self._redact = redact
        self._loop = asyncio.get_running_loop()
        self._finals: list[str] = []
        self._interim = ""
        self._published = ""
        self._error: Optional[SttError] = None
        self._sent_samples = 0
        self._odd_byte = b""
        self._final_until_s = 0.0
        self._results = 0
        self._finalize_acks = 0
        self._first_audio_at: Optional[float] = None
        self._last_send = self._loop.time()
        self._closing = False
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read(), name="deepgram-reader")
        self._watchdog = asyncio.create_task(self._watch(), name="deepgram-watchdog")

    async def feed(self, audio: bytes) -> None:
        """Send whole 16-bit samples; an empty frame would end the stream, so none is sent."""
        self._raise_if_failed()
        data = self._odd_byte + audio
        cut = len(data) - len(data) % 2
        self._odd_byte, data = data[cut:], data[:cut]
        if not data:
            return
        if self._first_audio_at is None:
            self._first_audio_at = self._loop.time()
        self._sent_samples += len(data) // 2
        await self._send(data)

    async def transcribe(self) -> str:
        """Finalize and wait for Deepgram to flush; the text covers every sample fed so far."""
        self._raise_if_failed()
        target_s = self._sent_samples / SAMPLE_RATE
        if self._covered(target_s):
            return self._text()
        acks = self._finalize_acks
        await self._send(FINALIZE)
        timeout_s = self._settings.finalize_timeout_s
        deadline = self._loop.time() + timeout_s
        while self._finalize_acks == acks and not self._covered(target_s):
            self._raise_if_failed()
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                if not self._results:
                    self._fail(SttError(f"Deepgram sent no result within {timeout_s:g} s of Finalize"))
                    raise self._error
                _LOGGER.warning("Deepgram did not confirm Finalize within %g s; using its latest results",
                                timeout_s)
                break
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass
        return self._text()

    async def close(self) -> None:
        """Send CloseStream and let Deepgram answer Metadata (skipped once failed); never leaves a task."""
        if self._closing:
            return
        self._closing = True
        self._watchdog.cancel()
        try:
            if self._ws.state is State.OPEN and self._error is None:
                try:
                    await self._ws.send(CLOSE_STREAM)
                    await asyncio.wait_for(asyncio.shield(self._reader), CLOSE_TIMEOUT_S)
                except (ConnectionClosed, TimeoutError):
                    pass
            await self._ws.close()
        finally:
            if self._ws.state is not State.CLOSED:
                self._ws.transport.abort()
            self._reader.cancel()
            await asyncio.gather(self._reader, self._watchdog, return_exceptions=True)
            self.on_closed(self)

    def _covered(self, target_s: float) -> bool:
        """True when final results reach the end of the audio sent (nothing left to flush)."""
        return self._final_until_s >= target_s - 0.5 / SAMPLE_RATE

    def _text(self) -> str:
        return " ".join(part for part in (*self._finals, self._interim) if part)

    async def _send(self, message: Union[str, bytes]) -> None:
        try:
            await self._ws.send(message)
        except ConnectionClosed as err:
            self._fail(self._closed_error())
            raise self._error from err
        self._last_send = self._loop.time()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
        if self._closing:
            raise SttError("the Deepgram session is closed")

    def _fail(self, error: SttError) -> None:
        if self._error is None:
            self._error = error
        self._changed.set()

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                if isinstance(raw, str):
                    self._on_message(raw)
        except ConnectionClosed:
            pass
        finally:
            if not self._closing:
                self._fail(self._closed_error())
            self._changed.set()

    async def _watch(self) -> None:
        """Send KeepAlive while idle, and fail the session if Deepgram stays silent after audio."""
        settings = self._settings
        tick = max(0.01, min(settings.keepalive_interval_s, settings.first_result_timeout_s) / 4)
        while self._error is None:
            await asyncio.sleep(tick)
            now = self._loop.time()
            started = self._first_audio_at
            if not self._results and started is not None and now - started > settings.first_result_timeout_s:
                self._fail(SttError(f"Deepgram sent no result within "
                                    f"{settings.first_result_timeout_s:g} s of audio"))
            elif now - self._last_send >= settings.keepalive_interval_s:
                try:
                    await self._send(KEEPALIVE)
                except SttError:
                    return

    def _on_message(self, raw: str) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            _FRAME_LOG.warning("not json", "Deepgram sent a text frame that is not JSON; ignored")
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "Results":
            self._on_results(message)
        elif kind == "Error":
            variant, description = message.get("variant"), message.get("description")
            self._fail(SttError(self._redact(
                f"Deepgram error {str(variant or '')[:80]}: {str(description or 'no details')[:300]}")))
        elif kind not in ("Metadata", "SpeechStarted", "UtteranceEnd"):
            _LOGGER.debug("Deepgram sent an unknown message type %r; ignored", str(kind)[:40])

    def _on_results(self, message: dict) -> None:
        parsed = _parse_results(message)
        if parsed is None:
            self._fail(SttError("Deepgram sent a malformed Results message"))
            return
        transcript, end_s, is_final = parsed
        self._results += 1
        if is_final:
            if transcript:
                self._finals.append(transcript)
            self._interim = ""
            self._final_until_s = max(self._final_until_s, end_s)
        else:
            self._interim = transcript
        if message.get("from_finalize") is True:
            self._finalize_acks += 1
        if sum(map(len, self._finals)) + len(self._interim) > MAX_TRANSCRIPT_CHARS:
            self._fail(SttError(f"Deepgram sent over {MAX_TRANSCRIPT_CHARS} characters for one utterance"))
        self._changed.set()
        self._publish()

    def _publish(self) -> None:
        text = self._text()
        if self._on_partial is None or not text or text == self._published:
            return
        self._published = text
        try:
            self._on_partial(text)
        except Exception:  # a broken callback must not stop the transcript
            _LOGGER.exception("Partial transcript callback failed")

    def _closed_error(self) -> SttError:
        code, reason = self._ws.close_code, (self._ws.close_reason or "").strip()
        if code is None or code == 1006:
            return SttError("Deepgram connection lost mid-stream (no close frame)")
        hint = _CLOSE_HINTS.get(reason.split(" ")[0])
        detail = f"code {code}" + (f" {reason[:200]}" if reason else "") + (f": {hint}" if hint else "")
        return SttError(self._redact(f"Deepgram closed the stream ({detail})"))


def _parse_results(message: dict) -> Optional[tuple[str, float, bool]]:
    """(transcript, end of the covered audio in s, is_final), or None when malformed."""
    channel = message.get("channel")
    alternatives = channel.get("alternatives") if isinstance(channel, dict) else None
    start, duration = message.get("start"), message.get("duration")
    if not isinstance(alternatives, list) or not (_seconds(start) and _seconds(duration)):
        return None
    best = alternatives[0] if alternatives else {}
    transcript = best.get("transcript", "") if isinstance(best, dict) else None
    if not isinstance(transcript, str):
        return None
    return transcript.strip(), float(start) + float(duration), message.get("is_final") is True


def _seconds(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e7


def bias_terms(names: list[str], limit: int, *, phrases: bool) -> list[str]:
    """Distinct names to boost: whole phrases for `keyterm`, single words for `keywords`."""
    pieces = names if phrases else [word for name in names for word in re.findall(r"[\w'-]+", name)]
    terms: dict[str, str] = {}
    for piece in pieces:
        term = " ".join(str(piece).split())[:100]
        if term and term.casefold() not in terms and len(terms) < limit:
            terms[term.casefold()] = term
    return list(terms.values())


def _rejection(err: InvalidStatus) -> str:
    """The refusal in Deepgram's words: `{err_code, err_msg}` body or the `dg-error` header."""
    response = err.response
    status = response.status_code
    body = (response.body or b"")[:16 * 1024].decode("utf-8", "replace").strip()
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and (parsed.get("err_msg") or parsed.get("err_code")):
        detail = f"{parsed.get('err_code') or ''}: {parsed.get('err_msg') or ''}".strip(": ")
    else:
        detail = response.headers.get("dg-error") or body or "no details"
    hint = " (check the Deepgram API key)" if status in (401, 403) else ""
    request_id = response.headers.get("dg-request-id")
    tail = f" [request {request_id[:64]}]" if request_id else ""
    return f"Deepgram refused the connection: HTTP {status}{hint}: {detail[:300]}{tail}"


def _retry_after(response) -> Optional[float]:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    value = (response.headers.get("Retry-After") or "").strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
