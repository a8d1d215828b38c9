"""One streaming client for OpenAI-compatible chat completions: Groq, Gemini, llama.cpp, Ollama.

`POST {base_url}/chat/completions` with `"stream": true`; the answer comes back as
server-sent events, one `chat.completion.chunk` JSON object per event, text in
`choices[0].delta.content`, and `data: [DONE]` at the end. Token usage arrives on the
last chunk as `usage` (OpenAI, Gemini, Ollama) or `x_groq.usage` (Groq). A `data:`
object with an `error` member is the provider reporting a failure mid-stream.

A line that is not JSON is skipped (and counted); a stream that ends without
`[DONE]` or a `finish_reason` was cut off and is an error, as is any HTTP status
other than 200 (with `retry-after` kept for the fallback chain's cool-down) and a 200
that is not `text/event-stream` (a captive portal, a proxy's page, a non-streaming server).
"""

import json
import logging
import time
from typing import Any, AsyncIterator, Optional

import httpx

from ...httpio import read_at_most, retry_after_s
from ..llm import LlmChunk, LlmError, LlmRequest
from .chunks import completion_tokens, delta
from .sse import SseError, sse_data

_LOGGER = logging.getLogger(__name__)
_MAX_ERROR_BODY = 2048
_MAX_ANSWER_CHARS = 64 * 1024  # far beyond any max_tokens we ask for; a runaway stream is cut here
_MAX_MODELS_BODY = 256 * 1024
#: httpx keeps an idle connection this long (its default): a provider used more recently needs no warm-up.
KEEPALIVE_S = 5.0


class OpenAiCompatProvider:
    """A chat-completions endpoint; `model` (when set) wins over the mode's model for it."""

    def __init__(self, name: str, base_url: str, api_key: Optional[str] = None, model: Optional[str] = None,
                 reasoning_effort: Optional[str] = None, connect_timeout_s: float = 3.0,
                 stream_timeout_s: float = 15.0, paid: bool = False) -> None:
        self.name = name
        self.paid = paid
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.models_url = base_url.rstrip("/") + "/models"
        self._last_used = float("-inf")
        self.model = model
        self.reasoning_effort = reasoning_effort
        headers = {"Accept": "text/event-stream"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        timeout = httpx.Timeout(stream_timeout_s, connect=connect_timeout_s)
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout)

    def available_for(self, request: LlmRequest) -> bool:
        return self._model(request) is not None

    def _model(self, request: LlmRequest) -> Optional[str]:
        return self.model or request.models.get(self.name)

    def body(self, request: LlmRequest) -> dict[str, Any]:
        """The JSON request body."""
        body: dict[str, Any] = {
            "model": self._model(request),
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
        }
        if self.reasoning_effort:
            body["reasoning_effort"] = self.reasoning_effort
        return body

    async def prepare(self, request: LlmRequest) -> None:
        """Open the connection before the request is ready (while a web search runs), so the chat
        request skips the TCP and TLS handshakes: `GET {base_url}/models`, which every
        OpenAI-compatible server answers for free; its answer is read (bounded) and ignored."""
        if self._model(request) is None or time.monotonic() - self._last_used < KEEPALIVE_S:
            return  # no request coming, or a connection from the last one is likely still open
        self._last_used = time.monotonic()
        try:
            async with self._client.stream("GET", self.models_url) as response:
                await read_at_most(response, _MAX_MODELS_BODY)  # read, so the connection goes back to the pool
        except httpx.HTTPError as err:
            _LOGGER.debug("%s: warm-up failed (%s: %s); the request will connect itself", self.name,
                          type(err).__name__, err)

    async def stream(self, request: LlmRequest) -> AsyncIterator[LlmChunk]:
        """The answer as it is generated; LlmError on any failure."""
        if self._model(request) is None:
            raise LlmError(f"{self.name}: no model configured for this mode")
        try:
            async with self._client.stream("POST", self.url, json=self.body(request)) as response:
                if response.status_code != 200:
                    raise await _http_error(self.name, response)
                kind = response.headers.get("content-type", "")
                if not kind.lower().startswith("text/event-stream"):
                    raise LlmError(f"{self.name}: answered {kind or 'no content type'!r}, not an event stream")
                async for chunk in self._chunks(response):
                    yield chunk
        except httpx.HTTPError as err:
            raise LlmError(f"{self.name}: {type(err).__name__}: {err}") from err
        except SseError as err:
            raise LlmError(f"{self.name}: {err}") from err
        finally:
            self._last_used = time.monotonic()

    async def _chunks(self, response: httpx.Response) -> AsyncIterator[LlmChunk]:
        finished, malformed, chars = False, 0, 0
        async for data in sse_data(response.aiter_bytes()):
            if data.strip() == "[DONE]":
                return
            try:
                event = json.loads(data)
            except ValueError:
                malformed += 1
                _LOGGER.debug("%s: skipping a malformed event (%d so far): %.80r", self.name, malformed, data)
                continue
            if not isinstance(event, dict):
                malformed += 1
                continue
            if event.get("error") is not None:
                raise LlmError(f"{self.name}: error in stream: {_error_text(event)}")
            text, finish = delta(event)
            tokens = completion_tokens(event)
            finished = finished or finish is not None
            if text or tokens is not None:
                chars += len(text)
                if chars > _MAX_ANSWER_CHARS:
                    raise LlmError(f"{self.name}: answer longer than {_MAX_ANSWER_CHARS} characters")
                yield LlmChunk(text, self.name, tokens)
        if not finished:
            raise LlmError(f"{self.name}: stream ended before the answer was complete")

    async def close(self) -> None:
        await self._client.aclose()


def _error_text(payload: Any) -> str:
    """The message of `{"error": {"message": ...}}` (OpenAI, Groq) or `[{"error": ...}]` (Gemini)."""
    if isinstance(payload, list) and payload:
        payload = payload[0]
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"][:300]
    if isinstance(error, str):
        return error[:300]
    return "unknown error"


async def _http_error(name: str, response: httpx.Response) -> LlmError:
    """An LlmError for a non-200 answer, with the provider's message and `retry-after`."""
    body, _ = await read_at_most(response, _MAX_ERROR_BODY)
    try:
        message = _error_text(json.loads(body))
    except ValueError:
        message = body[:200].decode("utf-8", "replace").strip() or response.reason_phrase
    return LlmError(f"{name}: HTTP {response.status_code}: {message}", response.status_code,
                    retry_after_s(response.headers.get("retry-after")))
