"""Cartesia Sonic over one long-lived WebSocket, generations multiplexed by `context_id`.

Wire format (docs.cartesia.ai, "Text to Speech (WebSocket)" and "API Errors"):
connect to `wss://api.cartesia.ai/tts/websocket?cartesia_version=...` with header
`X-API-Key`; send one JSON generation request per context; receive `chunk` (base64
`data`), `timestamps`/`flush_done` (ignored here), then `done`, or an `error` with
`done: true`. `{"context_id", "cancel": true}` stops a context. Audio is spoken only
once it is clearly PCM (`PcmCheck`); a message that is not JSON breaks every context,
and a refused handshake keeps its `retry-after` for the fallback chain's cool-down.
"""

import asyncio
import base64
import binascii
import json
import logging
import uuid
from typing import AsyncIterator, Optional, Union
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.protocol import State

from ...config import CartesiaSettings
from ...httpio import retry_after_s
from ..engine import TtsAudio, TtsError, UnknownVoiceError, VoiceInfo, VoiceRequest
from .pcm import PcmCheck

_LOGGER = logging.getLogger(__name__)

Message = Union[dict, TtsError]


class _Connection:
    """One open socket and the queue of every context still waiting on it."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.contexts: dict[str, "asyncio.Queue[Message]"] = {}
        self._reader = asyncio.create_task(self._read())

    @property
    def is_open(self) -> bool:
        """False once the socket closed; the engine then reconnects lazily."""
        return self.ws.state is State.OPEN and not self._reader.done()

    async def send(self, message: dict) -> None:
        """Send one JSON message; a closed socket becomes a TtsError."""
        try:
            await self.ws.send(json.dumps(message))
        except ConnectionClosed as err:
            raise TtsError(f"Cartesia connection closed ({_close_reason(self.ws)})") from err

    async def close(self) -> None:
        """Close the socket; waiting contexts get a TtsError from the reader."""
        await self.ws.close()
        await asyncio.gather(self._reader, return_exceptions=True)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self._route(raw)
        except ConnectionClosed:
            pass
        finally:
            lost = TtsError(f"Cartesia connection lost mid-stream ({_close_reason(self.ws)})")
            for queue in self.contexts.values():
                queue.put_nowait(lost)

    def _route(self, raw: Union[str, bytes]) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            lost = TtsError(f"Cartesia sent a message that is not a JSON object ({type(raw).__name__})")
            for queue in self.contexts.values():
                queue.put_nowait(lost)
            return
        queue = self.contexts.get(message.get("context_id"))
        if queue is not None:
            queue.put_nowait(message)
        elif message.get("type") == "error" and not message.get("context_id"):
            for queue in self.contexts.values():  # a connection-wide error
                queue.put_nowait(message)


class CartesiaEngine:
    """Streams Cartesia audio, keeping the socket open because its handshake is the slow part."""

    name = "cartesia"

    def __init__(self, settings: CartesiaSettings, api_key: str, *, timeout_s: float = 10.0) -> None:
        self._settings = settings
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._conn: Optional[_Connection] = None
        self._lock = asyncio.Lock()

    def voices(self) -> list[VoiceInfo]:
        """The one configured voice, named by its Cartesia id."""
        settings = self._settings
        return [VoiceInfo(name=settings.voice_id, languages=[settings.language],
                          description=f"Cartesia {settings.model} voice {settings.voice_id}")]

    async def synthesize(self, text: str, voice: VoiceRequest) -> AsyncIterator[TtsAudio]:
        """Yield audio as Cartesia streams it; closing early cancels the context."""
        if voice.name and voice.name != self._settings.voice_id:
            raise UnknownVoiceError(f"Cartesia offers voice {self._settings.voice_id!r}, not {voice.name!r}")
        if not text.strip():
            return
        conn = await self._connection()
        context_id = str(uuid.uuid4())
        queue: "asyncio.Queue[Message]" = asyncio.Queue()
        conn.contexts[context_id] = queue
        finished = False
        try:
            await conn.send(self._request(text, context_id))
            check = PcmCheck("Cartesia", self._settings.sample_rate)
            while not finished:
                message = await self._next(queue)
                if isinstance(message, TtsError):
                    finished = True
                    raise message
                finished = bool(message.get("done")) or message.get("type") in ("done", "error")
                if message.get("type") == "error":
                    raise TtsError(_describe_error(message))
                audio = check.feed(_decode_chunk(message)) if message.get("type") == "chunk" else b""
                if finished:
                    audio += check.end()
                if audio:
                    yield TtsAudio(audio=audio, rate=self._settings.sample_rate)
        finally:
            del conn.contexts[context_id]
            if not finished and conn.is_open:
                await _cancel(conn, context_id)

    async def close(self) -> None:
        """Close the socket; a later synthesize reconnects."""
        async with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def _connection(self) -> _Connection:
        async with self._lock:
            if self._conn is None or not self._conn.is_open:
                self._conn = _Connection(await self._open())
            return self._conn

    async def _open(self) -> ClientConnection:
        url = self._settings.url
        url += ("&" if "?" in url else "?") + urlencode({"cartesia_version": self._settings.version})
        _LOGGER.debug("Connecting to Cartesia at %s", self._settings.url)
        try:
            return await connect(url, additional_headers={"X-API-Key": self._api_key},
                                 open_timeout=self._timeout_s)
        except InvalidStatus as err:
            status = err.response.status_code
            body = (err.response.body or b"").decode("utf-8", "replace").strip()[:200]
            hint = " (check the Cartesia API key)" if status in (401, 403) else ""
            raise TtsError(self._redact(
                f"Cartesia refused the connection: HTTP {status}{hint}: {body or 'no details'}"),
                retry_after_s(err.response.headers.get("retry-after"))) from err
        except (OSError, TimeoutError, WebSocketException) as err:
            raise TtsError(self._redact(
                f"cannot connect to Cartesia at {self._settings.url}: {type(err).__name__}: {err}")) from err

    def _request(self, text: str, context_id: str) -> dict:
        settings = self._settings
        return {
            "model_id": settings.model,
            "transcript": text,
            "voice": {"mode": "id", "id": settings.voice_id},
            "language": settings.language,
            "context_id": context_id,
            "output_format": {"container": "raw", "encoding": "pcm_s16le",
                              "sample_rate": settings.sample_rate},
            "continue": False,
        }

    async def _next(self, queue: "asyncio.Queue[Message]") -> Message:
        try:
            return await asyncio.wait_for(queue.get(), self._timeout_s)
        except TimeoutError:
            raise TtsError(f"Cartesia sent nothing for {self._timeout_s:g} s") from None

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


async def _cancel(conn: _Connection, context_id: str) -> None:
    """Tell Cartesia to stop generating for a context nobody listens to any more."""
    try:
        await conn.send({"context_id": context_id, "cancel": True})
    except TtsError:
        pass


def _decode_chunk(message: dict) -> bytes:
    try:
        return base64.b64decode(message.get("data") or "", validate=True)
    except (binascii.Error, TypeError, ValueError) as err:
        raise TtsError("Cartesia sent an audio chunk that is not base64") from err


def _describe_error(message: dict) -> str:
    """Both shapes: `title`/`message`/`error_code` (2026-03-01 on) and one `error` string (older)."""
    text = message.get("message") or message.get("error") or "no details"
    code = message.get("error_code")
    head = f"Cartesia error {message.get('status_code', '?')}" + (f" {code}" if code else "")
    title = message.get("title")
    return f"{head}: {title}: {text}" if title else f"{head}: {text}"


def _close_reason(ws: ClientConnection) -> str:
    code = ws.close_code
    return "no close frame" if code is None or code == 1006 else f"code {code} {ws.close_reason or ''}".strip()
