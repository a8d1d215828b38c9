"""A local Cartesia TTS WebSocket server: the real handshake, messages and error shapes.

Use: `async with FakeCartesia() as fake:` then point an engine at `fake.url` with
`fake.api_key`; `fake.handshakes`, `fake.requests` and `fake.cancels` record what
arrived. Switches simulate failures: a wrong key (401 at the handshake),
`error_after_chunks`, `close_after_chunks` (abrupt TCP close), `first_chunk_delay_s`,
`silent` (never answers) and `drop_connections()` (server-side close, e.g. idle).
Provider faults: `hang_handshake` (TCP accepted, no HTTP answer), `handshake_status`
(with `retry_after` as its `retry-after` header), `garbage` (frames that are not JSON),
`empty` (`done` without audio), `binary` (audio as binary frames, not JSON chunks) and
`stall_after_chunks` (audio stops, the context stays open). `reset()` clears them.
"""

import asyncio
import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from . import tone

#: API versions from this date on answer structured errors (title/message/error_code).
STRUCTURED_ERRORS_SINCE = "2026-03-01"
SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
ENCODINGS = ("pcm_f32le", "pcm_s16le", "pcm_mulaw", "pcm_alaw")


@dataclass
class Handshake:
    """One opening HTTP request, as the server saw it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased


@dataclass
class FakeCartesia:
    """A Cartesia look-alike on 127.0.0.1 with an ephemeral port."""

    api_key: str = "fake-cartesia-key"
    chunk_samples: int = 2048
    chunk_interval_s: float = 0.0
    first_chunk_delay_s: float = 0.0
    error_after_chunks: Optional[int] = None
    close_after_chunks: Optional[int] = None
    silent: bool = False
    hang_handshake: bool = False
    handshake_status: Optional[int] = None
    retry_after: Optional[str] = None
    garbage: bool = False
    empty: bool = False
    binary: bool = False
    stall_after_chunks: Optional[int] = None
    url: str = ""
    handshakes: list[Handshake] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)
    connections_accepted: int = 0
    _server: Optional[Server] = None
    _open: set[ServerConnection] = field(default_factory=set)

    async def __aenter__(self) -> "FakeCartesia":
        self._server = await serve(self._session, "127.0.0.1", 0, process_request=self._handshake)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/tts/websocket"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def reset(self) -> None:
        """A healthy provider again: every failure switch off."""
        self.error_after_chunks = self.close_after_chunks = self.handshake_status = None
        self.retry_after = self.stall_after_chunks = None
        self.silent = self.hang_handshake = self.garbage = self.empty = self.binary = False
        self.first_chunk_delay_s = 0.0

    async def drop_connections(self) -> None:
        """Close every open connection from the server side, as an idle timeout would."""
        await asyncio.gather(*(ws.close(1001, "idle timeout") for ws in list(self._open)))

    async def _handshake(self, connection: ServerConnection, request: Request) -> Optional[Response]:
        split = urlsplit(request.path)
        query = dict(parse_qsl(split.query))
        headers = {name.lower(): value for name, value in request.headers.raw_items()}
        self.handshakes.append(Handshake(split.path, query, headers))
        if self.hang_handshake:
            await asyncio.Event().wait()
        if self.handshake_status is not None:
            response = connection.respond(self.handshake_status, "Try again later\n")
            if self.retry_after is not None:
                response.headers["Retry-After"] = self.retry_after
            return response
        if split.path != "/tts/websocket":
            return connection.respond(404, "Not Found\n")
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        key = headers.get("x-api-key") or query.get("api_key") or bearer
        if key != self.api_key:
            return connection.respond(401, "Invalid API key\n")
        if not (query.get("cartesia_version") or headers.get("cartesia-version")):
            return connection.respond(400, "Missing Cartesia-Version header or cartesia_version query parameter\n")
        return None

    async def _session(self, ws: ServerConnection) -> None:
        self.connections_accepted += 1
        self._open.add(ws)
        query = dict(parse_qsl(urlsplit(ws.request.path).query)) if ws.request else {}
        version = query.get("cartesia_version") or ws.request.headers.get("cartesia-version", "")
        speaking: dict[str, asyncio.Task] = {}
        try:
            async for raw in ws:
                await self._on_message(ws, version, raw, speaking)
        except ConnectionClosed:
            pass
        finally:
            self._open.discard(ws)
            for task in speaking.values():
                task.cancel()

    async def _on_message(self, ws: ServerConnection, version: str, raw: Any,
                          speaking: dict[str, asyncio.Task]) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            await ws.send(json.dumps(_error(version, None, 400, "invalid_request", "Invalid JSON",
                                            "The message is not valid JSON.")))
            return
        context_id = message.get("context_id") if isinstance(message, dict) else None
        if isinstance(message, dict) and message.get("cancel") is True:
            self.cancels.append(context_id)
            task = speaking.pop(context_id, None)
            if task is not None:
                task.cancel()
            return
        self.requests.append(message)
        problem = _validate(message)
        if problem is not None:
            await ws.send(json.dumps(_error(version, context_id, 400, "invalid_request",
                                            "Invalid request", problem)))
        elif not self.silent:
            speaking[context_id] = asyncio.create_task(self._speak(ws, version, message))

    async def _speak(self, ws: ServerConnection, version: str, message: dict) -> None:
        context_id = message["context_id"]
        audio = tone(message["transcript"], message["output_format"]["sample_rate"])
        step = self.chunk_samples * 2
        await asyncio.sleep(self.first_chunk_delay_s)
        try:
            if self.garbage:
                await ws.send("<html><body>502 Bad Gateway</body></html>")
                return
            for index, start in enumerate(range(0, len(audio) if not self.empty else 0, step)):
                if index == self.stall_after_chunks:
                    await asyncio.Event().wait()
                if self.binary:
                    await ws.send(audio[start:start + step])
                    continue
                if index == self.error_after_chunks:
                    await ws.send(json.dumps(_error(version, context_id, 500, "internal_error",
                                                    "Internal error", "Generation failed.")))
                    return
                if index == self.close_after_chunks:
                    ws.transport.abort()
                    return
                data = base64.b64encode(audio[start:start + step]).decode("ascii")
                await ws.send(json.dumps({"type": "chunk", "data": data, "done": False,
                                          "status_code": 206, "step_time": 1.0, "context_id": context_id}))
                await asyncio.sleep(self.chunk_interval_s)
            await ws.send(json.dumps({"type": "done", "done": True, "status_code": 206,
                                      "context_id": context_id}))
        except ConnectionClosed:
            pass


def _validate(message: Any) -> Optional[str]:
    """What the real API would reject in a generation request, or None."""
    if not isinstance(message, dict):
        return "The request must be a JSON object."
    for name, kind in (("model_id", str), ("transcript", str), ("voice", dict),
                       ("output_format", dict), ("context_id", str)):
        if not isinstance(message.get(name), kind):
            return f"missing or invalid field `{name}`"
    voice, output = message["voice"], message["output_format"]
    if voice.get("mode") != "id" or not voice.get("id"):
        return "voice must be {\"mode\": \"id\", \"id\": <voice id>}"
    if output.get("container") != "raw":
        return "the WebSocket endpoint only supports output_format.container \"raw\""
    if output.get("encoding") not in ENCODINGS:
        return f"output_format.encoding must be one of {', '.join(ENCODINGS)}"
    if output.get("encoding") != "pcm_s16le":
        return "this fake only produces pcm_s16le"
    if output.get("sample_rate") not in SAMPLE_RATES:
        return f"output_format.sample_rate must be one of {SAMPLE_RATES}"
    if not isinstance(message.get("language", ""), str) or not isinstance(message.get("continue", False), bool):
        return "language must be a string and continue a boolean"
    return None


def _error(version: str, context_id: Optional[str], status: int, code: str, title: str,
           text: str) -> dict[str, Any]:
    """An `error` message in the shape the requested API version uses."""
    error: dict[str, Any] = {"type": "error", "done": True, "status_code": status}
    if version >= STRUCTURED_ERRORS_SINCE:
        error.update(error_code=code, title=title, message=text, request_id=str(uuid.uuid4()))
    else:
        error["error"] = f"{title}: {text}"
    if context_id is not None:
        error["context_id"] = context_id
    return error
