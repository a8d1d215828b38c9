"""The LLM inside the intent server: llama.cpp through `xllamacpp`, the offline default.

Each model is one `xllamacpp.Server` (loaded once, memory-mapped) asked through
`handle_chat_completions` in-process: OpenAI-shaped chunks, the GGUF's own chat
template, `cache_prompt` so the fixed system prompt is not computed again each turn.
That server also opens an HTTP listener we never use; it is bound to a Unix socket in
a private (0700) directory and demands a random API key, so it adds nothing the LAN
(or another local user) can reach.

One generation at a time per model (one slot): up to `max_waiting` turns queue behind
it, more are refused at once as busy (`LlmError.busy`, spoken as such). A consumer that
stops reading (the client left, a timeout) stops the generation at the next token.
The system message gets an offline rule (no live facts, no device actions), and the
answer passes `OfflineGuard`, which ends it before a sentence that claims a device did
something.
"""

import asyncio
import contextlib
import json
import logging
import secrets
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, AsyncIterator, Optional, Sequence

from ...config import EmbeddedLlmSettings
from ..llm import ChatMessage, LlmChunk, LlmError, LlmRequest
from ..offline_guard import OFFLINE_RULE, OfflineGuard, live_facts_answer
from .chunks import completion_tokens, delta

_LOGGER = logging.getLogger(__name__)
_DONE = object()


class EmbeddedModel:
    """One loaded GGUF and its single generation slot."""

    def __init__(self, name: str, path: Path, settings: EmbeddedLlmSettings) -> None:
        self.name = name
        self.path = path
        self.settings = settings
        self.socket_dir: Optional[Path] = None
        self.api_key = secrets.token_urlsafe(32)
        self._server: Any = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"llm-{name}")
        self._slot: Optional[asyncio.Semaphore] = None
        self._waiting = 0

    def load(self) -> None:
        """Map the model and start llama.cpp (blocking: seconds)."""
        import xllamacpp  # imported here: the satellite and `--help` never pay for it

        self.socket_dir = Path(tempfile.mkdtemp(prefix="nexus-llm-"))  # 0700: ours alone
        params = xllamacpp.CommonParams()
        params.model.path = str(self.path)
        params.hostnames = [str(self.socket_dir / "llama.sock")]  # AF_UNIX: no TCP port at all
        params.api_keys = [self.api_key]
        params.n_parallel = 1
        params.n_ctx = self.settings.context_tokens
        params.cache_prompt = True
        params.cache_ram_mib = 256
        params.ui = False
        params.endpoint_slots = False
        params.endpoint_metrics = False
        params.endpoint_props = False
        params.verbosity = -1
        if self.settings.threads:
            params.cpuparams.n_threads = self.settings.threads
            params.cpuparams_batch.n_threads = self.settings.threads
        started = time.perf_counter()
        self._server = xllamacpp.Server(params)
        _LOGGER.info("embedded model %s loaded from %s in %.1f s (listener %s)", self.name, self.path,
                     time.perf_counter() - started, self._server.listening_address)

    def listening_address(self) -> str:
        """What llama.cpp's own HTTP server listens on (a unix:// path of ours)."""
        return self._server.listening_address if self._server is not None else ""

    def warm(self, messages: Sequence[ChatMessage]) -> float:
        """Generate one token for a prompt so its prefix sits in the slot's cache; seconds taken."""
        started = time.perf_counter()
        body = _body(messages, max_tokens=1, temperature=0.0)
        body.pop("stream")
        self._server.handle_chat_completions(body)
        return time.perf_counter() - started

    async def events(self, body: dict[str, Any]) -> AsyncIterator[dict]:
        """The chunks of one streamed completion; LlmError (busy) when the queue is full."""
        if self._slot is None:
            self._slot = asyncio.Semaphore(1)
        if self._slot.locked() and self._waiting >= self.settings.max_waiting:
            raise LlmError(f"embedded {self.name}: busy ({self._waiting} turns waiting)", busy=True)
        self._waiting += 1
        try:
            await self._slot.acquire()
        finally:
            self._waiting -= 1
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()

        def on_event(event: Any) -> bool:  # llama.cpp's thread; True stops the generation
            loop.call_soon_threadsafe(queue.put_nowait, event)
            return stop.is_set()

        def generate() -> None:
            try:
                self._server.handle_chat_completions(body, on_event)
            except Exception as err:  # a request llama.cpp refused (ValueError) or its failure
                loop.call_soon_threadsafe(queue.put_nowait, err)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)

        future = self._executor.submit(generate)
        future.add_done_callback(lambda _: _call_soon(loop, self._slot.release))
        try:
            while (event := await queue.get()) is not _DONE:
                if isinstance(event, Exception):
                    raise LlmError(f"embedded {self.name}: {event}") from event
                yield event
        finally:
            stop.set()  # the slot is released when llama.cpp has stopped (the done callback)

    def close(self) -> None:
        """Stop llama.cpp and remove the socket directory."""
        server, self._server = self._server, None
        self._executor.shutdown(wait=True)
        del server  # its destructor ends llama.cpp's loop and joins its threads
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)


class EmbeddedProvider:
    """The LlmProvider over the loaded models; a mode picks one by `models.embedded`."""

    name = "embedded"
    paid = False

    def __init__(self, models: dict[str, EmbeddedModel], fixed: Optional[str] = None,
                 turn_budget_s: float = 0.0) -> None:
        self.models = models
        self.turn_budget_s = turn_budget_s
        """How long a turn may wait for its first sentence from here (a queue, a slow CPU)."""
        self.fixed = fixed
        """The model every mode uses (intent.embedded.model_file), if one is set."""

    def model_for(self, request: LlmRequest) -> Optional[EmbeddedModel]:
        name = self.fixed or request.models.get(self.name)
        return self.models.get(name) if name else None

    def available_for(self, request: LlmRequest) -> bool:
        return self.model_for(request) is not None

    async def stream(self, request: LlmRequest) -> AsyncIterator[LlmChunk]:
        """The answer as llama.cpp writes it, through the offline guard."""
        model = self.model_for(request)
        if model is None:
            raise LlmError("embedded: no model for this mode")
        honest = live_facts_answer(_last_user(request.messages), _system(request.messages))
        if honest is not None:  # a question about now, and no web results to answer it from
            yield LlmChunk(honest, self.name)
            return
        guard = OfflineGuard()
        body = _body(with_offline_rule(request.messages), request.max_tokens, request.temperature)
        tokens: Optional[int] = None
        finished = False
        async with contextlib.aclosing(model.events(body)) as events:
            async for event in events:
                if _is_error(event):
                    raise LlmError(f"embedded {model.name}: {_error_message(event)}")
                text, finish = delta(event)
                tokens = completion_tokens(event) if completion_tokens(event) is not None else tokens
                finished = finished or finish is not None
                if text:  # an empty chunk while the guard holds a clause: the stream is alive
                    yield LlmChunk(guard.add(text), self.name)
                if guard.stopped:
                    _LOGGER.warning("embedded %s: answer cut before a claimed device action: %r", model.name,
                                    guard.withheld[:120])
                    break
        rest = guard.finish()
        if not finished and not guard.stopped:
            raise LlmError(f"embedded {model.name}: the answer ended before it was complete")
        yield LlmChunk(rest, self.name, tokens)

    async def close(self) -> None:
        for model in self.models.values():
            await asyncio.to_thread(model.close)


def with_offline_rule(messages: Sequence[ChatMessage]) -> tuple[ChatMessage, ...]:
    """The messages with OFFLINE_RULE after the system prompt's first paragraph (a fixed, cached prefix)."""
    if not messages or messages[0].role != "system":
        return (ChatMessage("system", OFFLINE_RULE), *messages)
    head, _, rest = messages[0].content.partition("\n\n")
    system = "\n\n".join(part for part in (head, OFFLINE_RULE, rest) if part)
    return (ChatMessage("system", system), *messages[1:])


def _last_user(messages: Sequence[ChatMessage]) -> str:
    return next((m.content for m in reversed(messages) if m.role == "user"), "")


def _system(messages: Sequence[ChatMessage]) -> str:
    return messages[0].content if messages and messages[0].role == "system" else ""


def _body(messages: Sequence[ChatMessage], max_tokens: int, temperature: float) -> dict[str, Any]:
    return {
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "max_tokens": max_tokens,
        "temperature": temperature,
        "stream": True,
        "stream_options": {"include_usage": True},
        "cache_prompt": True,
    }


def _call_soon(loop: asyncio.AbstractEventLoop, callback) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        loop.call_soon_threadsafe(callback)


def _is_error(event: Any) -> bool:
    if not isinstance(event, dict):
        return True
    return "error" in event or ("choices" not in event and "message" in event and "code" in event)


def _error_message(event: Any) -> str:
    if not isinstance(event, dict):
        return f"malformed chunk {json.dumps(event)[:100]}"
    error = event.get("error", event)
    message = error.get("message") if isinstance(error, dict) else error
    return str(message)[:300]
