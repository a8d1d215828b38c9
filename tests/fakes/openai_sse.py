"""A local OpenAI-compatible chat-completions server (Groq, Gemini, llama.cpp, Ollama look-alike).

`POST {base}/chat/completions` with `"stream": true` answers server-sent events as
the real APIs do: a first chunk with `delta.role`, one `chat.completion.chunk` per
token with `delta.content`, a last chunk with `finish_reason` and usage (`usage`, or
Groq's `x_groq.usage`), then `data: [DONE]`; errors are `{"error": {message, type,
code}}` with the HTTP status (429 with `retry-after`).

Use: `async with FakeOpenAi() as fake:` and point a provider at `fake.url` with
`fake.api_key` (None: no auth, like a local server). Switches: `fail_status`,
`retry_after`, `ttft_s` (delay before the first text, keep-alive comments meanwhile),
`tokens_per_s`, `malformed` (junk lines between chunks), `disconnect_after_tokens`
(socket dropped), `error_after_tokens` (an error event mid-stream), `stall_after_tokens`
(goes quiet mid-stream, connection open), `no_done` (clean end without [DONE] or
finish_reason), `silent` (never answers), `headers_only` (200 and headers, then
nothing), `raw_body` (a 200 with this body and `content_type` instead of a stream:
garbage, empty, an HTML page), `crlf`.
`cancelled` is set when a client hangs up before the answer is complete;
`first_token_sent` holds perf_counter() times of each answer's first text.
"""

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

from .http11 import Exchange, HttpFake, HttpRequest

MALFORMED_LINES = [b"data: {not json", b'data: "just a string"', b"data: [1, 2", b"event: ping",
                   b"id: 7", b"retry: 1000", b": keep-alive", b"data:", b"bogus line without colon"]


def tokens_of(text: str) -> list[str]:
    """Words with their leading space, as LLM tokenizers usually cut text."""
    return re.findall(r"\s*\S+", text)


@dataclass
class FakeOpenAi(HttpFake):
    """An OpenAI-compatible streaming chat endpoint on 127.0.0.1."""

    api_key: Optional[str] = "fake-llm-key"
    prefix: str = "/openai/v1"
    reply: str = "Hello there. I am a fake model."
    tokens: Optional[list[str]] = None  # exact tokens to stream; default: tokens_of(reply)
    usage_style: Optional[str] = "openai"  # "openai" | "groq" | None
    fail_status: Optional[int] = None
    retry_after: Optional[str] = None
    ttft_s: float = 0.0
    tokens_per_s: Optional[float] = None
    keepalive_s: float = 0.1
    malformed: bool = False
    disconnect_after_tokens: Optional[int] = None
    error_after_tokens: Optional[int] = None
    stall_after_tokens: Optional[int] = None
    no_done: bool = False
    silent: bool = False
    headers_only: bool = False
    raw_body: Optional[bytes] = None
    content_type: str = "text/event-stream"
    crlf: bool = False
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    completed: int = 0
    request_received: list[float] = field(default_factory=list)
    first_token_sent: list[float] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The base URL a client is configured with."""
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    @property
    def bodies(self) -> list[dict]:
        """The JSON bodies of the chat requests received."""
        return [r.json() for r in self.requests if r.path.endswith("/chat/completions")]

    async def answer(self, request: HttpRequest, exchange: Exchange) -> bool:
        if request.method == "GET" and request.path == f"{self.prefix}/models":  # the free model list
            await exchange.json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
            return True
        self.request_received.append(time.perf_counter())
        if request.method != "POST" or request.path != f"{self.prefix}/chat/completions":
            await exchange.json(404, _error("Unknown request URL", "invalid_request_error", "unknown_url"))
            return True
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            await exchange.json(401, _error("Invalid API Key", "invalid_request_error", "invalid_api_key"))
            return True
        problem = _check_body(request)
        if problem:
            await exchange.json(400, _error(problem, "invalid_request_error", None))
            return True
        if self.silent:
            await exchange.gone.wait()
            self.cancelled.set()
            return False
        if self.fail_status is not None:
            headers = {"retry-after": self.retry_after} if self.retry_after is not None else {}
            kind = "rate_limit_exceeded" if self.fail_status == 429 else "internal_server_error"
            await exchange.json(self.fail_status, _error("Please try again later.", kind, kind), headers)
            return True
        if self.raw_body is not None:
            exchange.head(200, {"content-type": self.content_type, "content-length": str(len(self.raw_body))})
            exchange.writer.write(self.raw_body)
            await exchange.writer.drain()
            return True
        try:
            return await self._stream(request.json(), exchange)
        except ConnectionError:
            self.cancelled.set()
            return False

    async def _stream(self, body: dict, exchange: Exchange) -> bool:
        exchange.head(200, {"content-type": self.content_type, "cache-control": "no-cache",
                            "transfer-encoding": "chunked"})
        if self.headers_only:
            await exchange.writer.drain()
            return await self._hang(exchange)
        chunk_id, model = f"chatcmpl-{uuid.uuid4()}", body["model"]
        await self._event(exchange, _chunk(chunk_id, model, {"role": "assistant", "content": ""}))
        await self._wait(exchange, self.ttft_s)
        tokens = self.tokens if self.tokens is not None else tokens_of(self.reply)
        for index, token in enumerate(tokens):
            if index == self.disconnect_after_tokens:
                exchange.abort()
                self.cancelled.set()
                return False
            if index == self.stall_after_tokens:
                return await self._hang(exchange)
            if index == self.error_after_tokens:
                await self._event(exchange, _error("The server had an error while processing your request.",
                                                   "server_error", None))
                await exchange.end_chunks()
                return True
            if index and self.tokens_per_s:
                await self._wait(exchange, 1 / self.tokens_per_s)
            if index == 0:
                self.first_token_sent.append(time.perf_counter())
            await self._event(exchange, _chunk(chunk_id, model, {"content": token}))
            if self.malformed:
                await exchange.chunk(self._lines(MALFORMED_LINES[index % len(MALFORMED_LINES)]) + self._nl())
        if self.disconnect_after_tokens is not None and self.disconnect_after_tokens >= len(tokens):
            exchange.abort()
            self.cancelled.set()
            return False
        if not self.no_done:
            await self._event(exchange, self._last(chunk_id, model, len(tokens)))
            await exchange.chunk(self._lines(b"data: [DONE]") + self._nl())
        await exchange.end_chunks()
        self.completed += 1
        return True

    async def _hang(self, exchange: Exchange) -> bool:
        """Send nothing more until the client hangs up."""
        await exchange.gone.wait()
        self.cancelled.set()
        return False

    async def _wait(self, exchange: Exchange, seconds: float) -> None:
        """Sleep, sending keep-alive comments meanwhile (as some servers do)."""
        deadline = time.perf_counter() + seconds
        while (left := deadline - time.perf_counter()) > 0:
            await asyncio.sleep(min(left, self.keepalive_s))
            if deadline - time.perf_counter() > 0.001:
                await exchange.chunk(self._lines(b": keep-alive") + self._nl())

    def _last(self, chunk_id: str, model: str, count: int) -> dict:
        last = _chunk(chunk_id, model, {}, finish="stop")
        usage = {"prompt_tokens": 20, "completion_tokens": count, "total_tokens": 20 + count}
        if self.usage_style == "openai":
            last["usage"] = usage
        elif self.usage_style == "groq":
            last["x_groq"] = {"id": f"req_{uuid.uuid4().hex}", "usage": {**usage, "queue_time": 0.01}}
        return last

    async def _event(self, exchange: Exchange, payload: dict) -> None:
        await exchange.chunk(self._lines(b"data: " + json.dumps(payload).encode()) + self._nl())

    def _nl(self) -> bytes:
        return b"\r\n" if self.crlf else b"\n"

    def _lines(self, line: bytes) -> bytes:
        return line + self._nl()


def _chunk(chunk_id: str, model: str, delta: dict, finish: Optional[str] = None) -> dict:
    return {"id": chunk_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}


def _error(message: str, kind: str, code: Optional[str]) -> dict:
    return {"error": {"message": message, "type": kind, "code": code}}


def _check_body(request: HttpRequest) -> Optional[str]:
    """What a real endpoint would refuse with a 400, if anything."""
    try:
        body: Any = request.json()
    except ValueError:
        return "We could not parse the JSON body of your request."
    if not isinstance(body, dict) or not isinstance(body.get("model"), str) or not body["model"]:
        return "'model' : property 'model' is missing"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' : minimum number of items is 1"
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant"):
            return "'messages' : each message needs a valid role"
        if not isinstance(message.get("content"), str):
            return "'messages' : each message needs string content"
    if body.get("stream") is not True:
        return "this fake only streams"
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        return "'max_tokens' : must be a positive integer"
    return None
