"""A local Deepgram live transcription server (`/v1/listen`): the real handshake, messages and closes.

Use: `async with FakeDeepgramListen(words=[...]) as fake:` then point an engine at `fake.url`
with `fake.api_key`. The fake "hears" 20 ms frames louder than a threshold as speech (build
audio with `speech()` and `silence()`) and releases the scripted words one per
`seconds_per_word` of speech: interim `Results` every `interim_every_s` of audio, a final one
with `speech_final` after `endpointing` ms of silence, a `from_finalize` one in answer to
Finalize, and on CloseStream the last results, `Metadata`, then a 1000 close. `streams`
records each connection (handshake, audio bytes, control messages, messages sent).

Switches: a wrong key (401), `stall_handshake`, `silent` (never answers), `first_result_delay_s`,
`ack_finalize=False` (flushes without `from_finalize`), `flush_short_s` (a flushed result that
reports less audio than was sent: Deepgram's durations are not promised to be exact),
`close_after_s` with `close_code` / `close_reason` (e.g. 1011 NET-0000), `error_after_s` (an
`Error` message), `idle_timeout_s` (1011 NET-0001 without audio or KeepAlive, as the real
service does after 10 s), `reject_status` for the first `reject_count` handshakes (e.g. 503, or
429 with `retry_after`), `garbage` (every message replaced by frames that are not Deepgram's)
and `drop_after_results` (the TCP connection cut, no close frame, after that many results).
"""

import asyncio
import hashlib
import json
import math
import sys
import uuid
from array import array
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

RATE = 16000
FRAME_SAMPLES = 320  # 20 ms
SPEECH_LEVEL = 500
MODELS = ("nova-3", "nova-3-general", "nova-2", "nova-2-general", "nova", "enhanced", "base")
ENCODINGS = ("linear16", "linear32", "flac", "alaw", "mulaw", "amr-nb", "amr-wb", "opus", "ogg-opus",
             "speex", "g729")
BOOLEAN_PARAMS = ("interim_results", "smart_format", "punctuate")
#: What `garbage` sends instead of each message: none of it is a Deepgram message.
GARBAGE_FRAMES = ("not json {", b"\x00\xffbinary", "[1, 2]", '"Results"', '{"type": 7}', "{}")


def speech(seconds: float) -> bytes:
    """A 440 Hz tone the fake hears as speech."""
    samples = round(seconds * RATE)
    return _pcm(int(8000 * math.sin(2 * math.pi * 440 * i / RATE)) for i in range(samples))


def silence(seconds: float) -> bytes:
    """Zeros the fake hears as silence."""
    return bytes(2 * round(seconds * RATE))


def _pcm(samples) -> bytes:
    return _native(array("h", samples)).tobytes()


def _native(pcm: array) -> array:
    """Little-endian PCM <-> this machine's order."""
    if sys.byteorder == "big":
        pcm.byteswap()
    return pcm


@dataclass
class Handshake:
    """One opening HTTP request, as the server saw it."""

    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # names lower-cased


@dataclass
class Stream:
    """What one accepted connection received and answered."""

    handshake: Handshake
    audio: bytearray = field(default_factory=bytearray)
    controls: list[str] = field(default_factory=list)  # "KeepAlive", "Finalize", "CloseStream"
    empty_frames: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    closed_by_server: Optional[tuple[int, str]] = None


@dataclass
class FakeDeepgramListen:
    """A Deepgram look-alike on 127.0.0.1 with an ephemeral port."""

    api_key: str = "fake-deepgram-key"
    words: list[str] = field(default_factory=lambda: ["turn", "on", "the", "kitchen", "light"])
    seconds_per_word: float = 0.2
    interim_every_s: float = 0.2
    idle_timeout_s: float = 10.0
    stall_handshake: bool = False
    silent: bool = False
    first_result_delay_s: float = 0.0
    ack_finalize: bool = True
    flush_short_s: float = 0.0
    close_after_s: Optional[float] = None
    close_code: int = 1011
    close_reason: str = "NET-0000"
    error_after_s: Optional[float] = None
    reject_status: Optional[int] = None
    reject_count: int = 1_000_000
    retry_after: Optional[str] = None
    garbage: bool = False
    drop_after_results: Optional[int] = None
    url: str = ""
    handshakes: list[Handshake] = field(default_factory=list)
    streams: list[Stream] = field(default_factory=list)
    _server: Optional[Server] = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> "FakeDeepgramListen":
        self._server = await serve(self._session, "127.0.0.1", 0, process_request=self._handshake,
                                   select_subprotocol=_token_subprotocol)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/v1/listen"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._release.set()
        self._server.close()
        await self._server.wait_closed()

    async def _handshake(self, connection: ServerConnection, request: Request) -> Optional[Response]:
        split = urlsplit(request.path)
        query = parse_qsl(split.query, keep_blank_values=True)
        headers = {name.lower(): value for name, value in request.headers.raw_items()}
        self.handshakes.append(Handshake(split.path, query, headers))
        if self.stall_handshake:
            await self._release.wait()
        if split.path != "/v1/listen":
            return _reject(connection, 404, "NOT_FOUND", "Not found.")
        authorization = headers.get("authorization", "")
        protocols = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",")]
        key = authorization.removeprefix("Token ") if authorization.startswith("Token ") else (
            protocols[1] if len(protocols) == 2 and protocols[0] == "token" else None)
        if key != self.api_key:
            return _reject(connection, 401, "INVALID_AUTH", "Invalid credentials.")
        if self.reject_status is not None and len(self.handshakes) <= self.reject_count:
            response = _reject(connection, self.reject_status, "UNAVAILABLE", "Try again later.")
            if self.retry_after is not None:
                response.headers["Retry-After"] = self.retry_after
            return response
        problem = _validate(query)
        return _reject(connection, 400, "Bad Request", problem) if problem else None

    async def _session(self, ws: ServerConnection) -> None:
        handshake = self.handshakes[-1]
        stream = Stream(handshake)
        self.streams.append(stream)
        recognizer = _Recognizer(self, stream, ws, dict(handshake.query))
        try:
            while True:
                try:
                    raw = await asyncio.wait_for(ws.recv(), self.idle_timeout_s)
                except TimeoutError:
                    await recognizer.close(1011, "NET-0001")
                    return
                if not await recognizer.on_frame(raw):
                    return
        except ConnectionClosed:
            pass


class _Recognizer:
    """Turns one connection's audio into Deepgram messages, deterministically."""

    def __init__(self, fake: FakeDeepgramListen, stream: Stream, ws: ServerConnection,
                 query: dict[str, str]) -> None:
        self.fake, self.stream, self.ws = fake, stream, ws
        self.request_id = str(uuid.uuid4())
        self.interim = query.get("interim_results") == "true"
        endpointing = query.get("endpointing", "10")
        self.endpointing_frames = 0 if endpointing == "false" else max(1, int(endpointing) // 20)
        self.frames_per_word = max(1, round(fake.seconds_per_word * RATE / FRAME_SAMPLES))
        self.interim_frames = max(1, round(fake.interim_every_s * RATE / FRAME_SAMPLES))
        self.frames = self.speech_frames = self.silent_run = 0
        self.segment_start = self.segment_word = 0  # in samples, in words
        self.segment_has_speech = False
        self.first_sent = False
        self.errored = False

    async def on_frame(self, raw: Any) -> bool:
        """Handle one client frame; False once the stream is over."""
        if isinstance(raw, bytes):
            if not raw:  # Deepgram's legacy end-of-stream signal
                self.stream.empty_frames += 1
                return await self._close_stream()
            self.stream.audio += raw
            return await self._hear()
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind in ("KeepAlive", "Finalize", "CloseStream"):
            self.stream.controls.append(kind)
        if kind == "Finalize":
            await self._flush(from_finalize=self.fake.ack_finalize)
        elif kind == "CloseStream":
            return await self._close_stream()
        elif kind != "KeepAlive":
            await self._send({"type": "Error", "variant": "SchemaError",
                              "description": "Could not parse the client message.", "message": str(raw)[:200]})
        return True

    async def close(self, code: int, reason: str) -> None:
        """Close the socket with a Deepgram-style code and reason."""
        self.stream.closed_by_server = (code, reason)
        await self.ws.close(code, reason)

    async def _hear(self) -> bool:
        fake, received = self.fake, len(self.stream.audio) // 2
        while (self.frames + 1) * FRAME_SAMPLES <= received:
            frame = self.stream.audio[2 * self.frames * FRAME_SAMPLES:2 * (self.frames + 1) * FRAME_SAMPLES]
            self.frames += 1
            loud = max(abs(s) for s in _native(array("h", bytes(frame)))) > SPEECH_LEVEL
            self.speech_frames += loud
            self.segment_has_speech |= loud
            self.silent_run = 0 if loud else self.silent_run + 1
            seconds = self.frames * FRAME_SAMPLES / RATE
            if fake.close_after_s is not None and seconds >= fake.close_after_s:
                await self.close(fake.close_code, fake.close_reason)
                return False
            if fake.error_after_s is not None and seconds >= fake.error_after_s and not self.errored:
                self.errored = True
                await self._send({"type": "Error", "variant": "InternalError",
                                  "description": "The transcription service failed."})
            if self.endpointing_frames and self.segment_has_speech and self.silent_run >= self.endpointing_frames:
                await self._result(self.frames * FRAME_SAMPLES, is_final=True, speech_final=True)
            elif self.interim and self.frames % self.interim_frames == 0:
                await self._result(self.frames * FRAME_SAMPLES, is_final=False)
        return True

    async def _flush(self, from_finalize: Optional[bool]) -> None:
        """Finalize all audio received; nothing is sent when nothing is pending (as documented)."""
        end = len(self.stream.audio) // 2
        if end > self.segment_start:
            short = round(self.fake.flush_short_s * RATE) if from_finalize is not None else 0
            await self._result(end, is_final=True, from_finalize=bool(from_finalize), reported_end=end - short)

    async def _close_stream(self) -> bool:
        await self._flush(from_finalize=None)
        audio = bytes(self.stream.audio)
        await self._send({
            "type": "Metadata", "transaction_key": "deprecated", "request_id": self.request_id,
            "sha256": hashlib.sha256(audio).hexdigest(),
            "created": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "duration": len(audio) / 2 / RATE, "channels": 1,
        })
        if not self.fake.silent:
            await self.close(1000, "")
        return self.fake.silent

    async def _result(self, end: int, is_final: bool, speech_final: bool = False,
                      from_finalize: bool = False, reported_end: Optional[int] = None) -> None:
        heard = min(len(self.fake.words), self.speech_frames // self.frames_per_word)
        words = self.fake.words[self.segment_word:heard]
        start_s, end_s = self.segment_start / RATE, (end if reported_end is None else reported_end) / RATE
        step = (end_s - start_s) / max(1, len(words))
        await self._send({
            "type": "Results", "channel_index": [0, 1], "duration": end_s - start_s, "start": start_s,
            "is_final": is_final, "speech_final": speech_final, "from_finalize": from_finalize,
            "channel": {"alternatives": [{
                "transcript": " ".join(words), "confidence": 0.98 if words else 0.0,
                "words": [{"word": w.lower(), "start": start_s + i * step, "end": start_s + (i + 1) * step,
                           "confidence": 0.98, "punctuated_word": w} for i, w in enumerate(words)],
            }]},
            "metadata": {"request_id": self.request_id,
                         "model_info": {"name": "2-general-nova", "version": "2024-01-09.29447", "arch": "nova-3"},
                         "model_uuid": "1ed36bac-f71c-4f3f-a31f-02fd6525c489"},
        })
        if is_final:
            self.segment_start, self.segment_word = end, heard
            self.segment_has_speech = False

    async def _send(self, message: dict[str, Any]) -> None:
        if self.fake.silent:
            return
        if not self.first_sent:
            self.first_sent = True
            await asyncio.sleep(self.fake.first_result_delay_s)
        self.stream.sent.append(message)
        if self.fake.garbage:
            for frame in GARBAGE_FRAMES:
                await self.ws.send(frame)
        else:
            await self.ws.send(json.dumps(message))
        results = sum(1 for m in self.stream.sent if m["type"] == "Results")
        if self.fake.drop_after_results is not None and results >= self.fake.drop_after_results:
            self.ws.transport.abort()


def _token_subprotocol(connection: ServerConnection, offered) -> Optional[str]:
    """Accept the `token` subprotocol browsers use instead of the Authorization header."""
    return "token" if "token" in offered else None


def _reject(connection: ServerConnection, status: int, code: str, message: str) -> Response:
    """Deepgram's refusal: a JSON body plus `dg-error` and `dg-request-id` headers."""
    request_id = str(uuid.uuid4())
    response = connection.respond(status, json.dumps({"err_code": code, "err_msg": message,
                                                      "request_id": request_id}))
    response.headers["Content-Type"] = "application/json"
    response.headers["dg-error"] = message
    response.headers["dg-request-id"] = request_id
    return response


def _validate(query: list[tuple[str, str]]) -> Optional[str]:
    """What the real API (or this fake's narrower audio support) would refuse, or None."""
    params = dict(query)
    single = {"model", "encoding", "sample_rate", "channels", "language", "endpointing", *BOOLEAN_PARAMS}
    for name in single:
        if sum(1 for key, _ in query if key == name) > 1:
            return f"Parameter `{name}` was given more than once."
    model = params.get("model", "base")
    if model not in MODELS:
        return f"No such model: {model}."
    if params.get("encoding") not in (None, *ENCODINGS):
        return f"Unknown encoding: {params['encoding']}."
    if "encoding" in params and "sample_rate" not in params:
        return "`sample_rate` is required when `encoding` is set."
    if (params.get("encoding"), params.get("sample_rate"), params.get("channels", "1")) != ("linear16", "16000", "1"):
        return "This fake only transcribes linear16, 16000 Hz, 1 channel."
    for name in BOOLEAN_PARAMS:
        if params.get(name, "false") not in ("true", "false"):
            return f"`{name}` must be true or false."
    endpointing = params.get("endpointing", "10")
    if endpointing != "false" and not endpointing.isdigit():
        return "`endpointing` must be a number of milliseconds or false."
    keyterms = [value for key, value in query if key == "keyterm"]
    keywords = [value for key, value in query if key == "keywords"]
    if keyterms and not model.startswith("nova-3"):
        return "Keyterm Prompting is only available with Nova-3 models."
    if keywords and model.startswith("nova-3"):
        return "Keywords are not supported with Nova-3; use keyterm."
    if len(keyterms) > 100 or len(keywords) > 100:
        return "Too many keyterms or keywords (at most 100)."
    return None
