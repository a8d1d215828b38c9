"""A local Deepgram Aura `/v1/speak` server: real auth, query and body checks, errors, chunked PCM.

A minimal HTTP/1.1 server on asyncio streams with keep-alive. Use:
`async with FakeAura() as fake:` then point an engine at `fake.url` with `fake.api_key`;
`fake.requests` records each request with the client's port (to prove connection reuse).
Switches: a wrong key (401), `fail_status` (e.g. 500, with `retry_after` as its
`retry-after` header), `first_byte_delay_s`, `close_after_bytes` (drops the socket
mid-body), `silent` (never answers), `hang_after_headers`, `stall_after_bytes` (the
body stops and the socket stays open), and `body` (a 200 with this body and
`content_type` instead of audio: empty, an HTML page, garbage). `reset()` clears them.
Text over 2000 characters is a 413, as documented.
"""

import asyncio
import json
import struct
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Optional

from . import tone
from .http11 import HttpRequest, read_request, write_head

MAX_CHARS = 2000
LINEAR16_RATES = (8000, 16000, 24000, 32000, 48000)
QUERY_PARAMS = ("model", "encoding", "sample_rate", "container", "bit_rate", "callback",
                "callback_method", "mip_opt_out", "tag", "speed")


SpeakRequest = HttpRequest  # what the fake records per request


class _Rejected(Exception):
    """An error answer: status and Deepgram's `{err_code, err_msg}`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class FakeAura:
    """A Deepgram look-alike on 127.0.0.1 with an ephemeral port."""

    api_key: str = "fake-deepgram-key"
    chunk_bytes: int = 4095  # odd on purpose: real chunks split samples too
    fail_status: Optional[int] = None
    first_byte_delay_s: float = 0.0
    close_after_bytes: Optional[int] = None
    silent: bool = False
    retry_after: Optional[str] = None
    hang_after_headers: bool = False
    stall_after_bytes: Optional[int] = None
    body: Optional[bytes] = None
    content_type: str = "application/octet-stream"
    url: str = ""
    requests: list[SpeakRequest] = field(default_factory=list)
    _server: Optional[asyncio.Server] = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def __aenter__(self) -> "FakeAura":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v1/speak"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    def reset(self) -> None:
        """A healthy provider again: every failure switch off."""
        self.fail_status = self.close_after_bytes = self.retry_after = self.stall_after_bytes = self.body = None
        self.silent = self.hang_after_headers = False
        self.first_byte_delay_s = 0.0
        self.content_type = "application/octet-stream"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        port = writer.get_extra_info("peername")[1]
        try:
            while (request := await read_request(reader, port)) is not None:
                self.requests.append(request)
                if not await self._answer(request, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(self, request: SpeakRequest, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection must not be reused."""
        if self.silent:
            await asyncio.Event().wait()
        try:
            text, rate, container = self._check(request)
        except _Rejected as err:
            body = json.dumps({"err_code": err.code, "err_msg": err.message,
                               "request_id": str(uuid.uuid4())}).encode()
            headers = {"content-type": "application/json", "content-length": str(len(body))}
            if self.retry_after is not None:
                headers["retry-after"] = self.retry_after
            write_head(writer, err.status, headers)
            writer.write(body)
            await writer.drain()
            return True
        if self.body is not None:
            write_head(writer, 200, {"content-type": self.content_type, "content-length": str(len(self.body))})
            writer.write(self.body)
            await writer.drain()
            return True
        audio = tone(text, rate)
        if container == "wav":
            audio = _wav_header(len(audio), rate) + audio
        await asyncio.sleep(self.first_byte_delay_s)
        write_head(writer, 200, {"content-type": "audio/wav" if container == "wav" else "application/octet-stream",
                                  "transfer-encoding": "chunked", "dg-request-id": str(uuid.uuid4()),
                                  "dg-model-name": request.query.get("model", ""), "dg-char-count": str(len(text))})
        if self.hang_after_headers:
            await writer.drain()
            await asyncio.Event().wait()
        for start in range(0, len(audio), self.chunk_bytes):
            if self.stall_after_bytes is not None and start >= self.stall_after_bytes:
                await asyncio.Event().wait()
            if self.close_after_bytes is not None and start >= self.close_after_bytes:
                writer.transport.abort()
                return False
            piece = audio[start:start + self.chunk_bytes]
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    def _check(self, request: SpeakRequest) -> tuple[str, int, str]:
        """Validate like the real API; returns text, sample rate and container."""
        if request.method != "POST" or request.path != "/v1/speak":
            raise _Rejected(404, "NOT_FOUND", "Not found.")
        if request.headers.get("authorization") != f"Token {self.api_key}":
            raise _Rejected(401, "INVALID_AUTH", "Invalid credentials.")
        if self.fail_status is not None:
            raise _Rejected(self.fail_status, HTTPStatus(self.fail_status).phrase, "Please try again later.")
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type not in ("application/json", "text/plain"):
            raise _Rejected(415, "UNSUPPORTED_MEDIA_TYPE", "`Content-Type` header is not supported. "
                            "`Content-Type` must be either `text/plain` or `application/json`.")
        query = request.query
        unknown = sorted(set(query) - set(QUERY_PARAMS))
        if unknown:
            raise _Rejected(400, "INVALID_QUERY_PARAMETER",
                            f"Failed to deserialize query parameters: unknown field `{unknown[0]}`")
        if not query.get("model", "aura-asteria-en").startswith("aura-"):
            raise _Rejected(400, "Bad Request", "Bad Request: No such model/language/tier combination found.")
        if query.get("encoding", "linear16") != "linear16":
            raise _Rejected(400, "INVALID_QUERY_PARAMETER", "Unsupported audio format: this fake serves linear16")
        container = query.get("container", "wav")
        if container not in ("none", "wav"):
            raise _Rejected(400, "INVALID_QUERY_PARAMETER",
                            f"Unsupported audio format: container={container} is invalid when encoding=linear16")
        rate = query.get("sample_rate", "24000")
        if not rate.isdigit() or int(rate) not in LINEAR16_RATES:
            raise _Rejected(400, "INVALID_QUERY_PARAMETER", "Unsupported audio format: sample_rate must be "
                            f"{', '.join(map(str, LINEAR16_RATES))} when encoding=linear16")
        return _text_of(request, content_type), int(rate), container


def _text_of(request: SpeakRequest, content_type: str) -> str:
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Rejected(400, "PAYLOAD_ERROR", "Failed to decode payload as UTF-8.") from None
    if content_type == "application/json":
        try:
            payload = json.loads(text)
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("text"), str) or "url" in payload:
            raise _Rejected(400, "PAYLOAD_ERROR", "Failed to deserialize JSON payload. "
                            "Please specify exactly one of `text` or `url` in the JSON body.")
        text = payload["text"]
    if not text.strip():
        raise _Rejected(400, "Bad Request", "Input text contains no characters.")
    if len(text) > MAX_CHARS:
        raise _Rejected(413, "Payload Too Large", f"Input text exceeds maximum character limit of {MAX_CHARS}.")
    return text


def _wav_header(data_bytes: int, rate: int) -> bytes:
    """The 44-byte header Deepgram puts first when container=wav (the default)."""
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + data_bytes, b"WAVE", b"fmt ", 16, 1, 1,
                       rate, rate * 2, 2, 16, b"data", data_bytes)
