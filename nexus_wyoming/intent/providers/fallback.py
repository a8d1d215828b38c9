"""A chain of LLM providers that is itself a provider: the next one takes over on failure.

A provider fails when it cannot connect, answers with an HTTP error, gives no text
within `first_token_timeout_s` (the last provider gets `last_token_timeout_s`), goes
silent for `token_stall_timeout_s` between two chunks, or its stream breaks or ends
without text. Its text is held back until `ready(text)` says the listener can be
told something (a first sentence or clause): a provider that fails before that point
is a provider that failed, its text is dropped and the next one answers the same
request, and the listener never knows. Once text has been released no one can take
over without repeating it: the failure is raised with `after_text=True` for the
caller to end the reply gracefully. A failed provider is skipped for a cool-down (the
provider's `retry-after` when it sent one) so later turns don't each pay its timeout.
"""

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field, replace
from typing import AsyncIterator, Callable, Sequence

from ...metrics import REGISTRY
from ..llm import LlmChunk, LlmError, LlmProvider, LlmRequest

_LOGGER = logging.getLogger(__name__)
_FALLBACKS = REGISTRY.counter("nexus_intent_llm_fallbacks_total", "Requests moved to the next LLM provider")
_MAX_COOLDOWN_S = 600.0


class FallbackProvider:
    """Tries each provider in order until one streams text the listener can be given."""

    name = "fallback"

    def __init__(self, providers: Sequence[LlmProvider], first_token_timeout_s: float,
                 last_token_timeout_s: float, cooldown_s: float = 30.0, token_stall_timeout_s: float = 15.0,
                 ready: Callable[[str], bool] = bool) -> None:
        self.providers = list(providers)
        self.first_token_timeout_s = first_token_timeout_s
        self.last_token_timeout_s = last_token_timeout_s
        self.cooldown_s = cooldown_s
        self.token_stall_timeout_s = token_stall_timeout_s
        self.ready = ready
        self._failed_until: dict[str, float] = {}

    @property
    def paid(self) -> bool:
        return any(p.paid for p in self.providers)

    def available_for(self, request: LlmRequest) -> bool:
        return any(p.available_for(request) for p in self.providers)

    @property
    def turn_budget_s(self) -> float:
        """The longest first-sentence budget a member asks for (0: the intent server's own)."""
        return max((getattr(p, "turn_budget_s", 0.0) for p in self.providers), default=0.0)

    async def prepare(self, request: LlmRequest) -> None:
        """Get the provider that will be asked first ready, if it has a `prepare` (a connection to open)."""
        candidates = self._candidates(request)
        prepare = getattr(candidates[0], "prepare", None) if candidates else None
        if prepare is not None:
            await prepare(request)

    async def stream(self, request: LlmRequest) -> AsyncIterator[LlmChunk]:
        """Chunks from the first provider that answers in time, each marked with its name."""
        candidates = self._candidates(request)
        if not candidates:
            raise LlmError("no LLM provider is configured for this mode")
        for index, provider in enumerate(candidates):
            last = index == len(candidates) - 1
            attempt = _Attempt()
            try:
                async with contextlib.aclosing(self._attempt(provider, request, last, attempt)) as chunks:
                    async for chunk in chunks:
                        yield replace(chunk, provider=provider.name, fallbacks=index)
            except Exception as err:  # any failure of a provider means: the next one, if it can
                reason = _reason(err)
                if attempt.released:
                    raise LlmError(f"{provider.name} broke off: {reason}", after_text=True, fallbacks=index) from err
                busy = isinstance(err, LlmError) and err.busy  # working for others: no cool-down
                if not busy:
                    self._failed(provider, err, reason, None if last else candidates[index + 1])
                if last:
                    raise LlmError(f"no LLM provider answered (last: {provider.name}: {reason})",
                                   fallbacks=index, busy=busy) from err
                continue
            self._failed_until.pop(provider.name, None)
            return

    async def _attempt(self, provider: LlmProvider, request: LlmRequest, last: bool,
                       attempt: "_Attempt") -> AsyncIterator[LlmChunk]:
        """One provider's chunks: held until `ready`, then passed on as they come."""
        loop = asyncio.get_running_loop()
        first_deadline = loop.time() + (self.last_token_timeout_s if last else self.first_token_timeout_s)
        async with contextlib.aclosing(provider.stream(request)) as chunks:
            while True:
                stall_deadline = loop.time() + self.token_stall_timeout_s  # from now: our own pauses don't count
                async with asyncio.timeout_at(stall_deadline if attempt.text else first_deadline):
                    chunk = await anext(chunks, None)
                if chunk is None:
                    break
                for ready in attempt.add(chunk, self.ready):
                    yield ready
        if not attempt.text:
            raise LlmError(f"{provider.name}: the answer has no text")
        for ready in attempt.release():
            yield ready

    def _failed(self, provider: LlmProvider, err: Exception, reason: str, successor) -> None:
        retry_after = err.retry_after_s if isinstance(err, LlmError) else None
        cooldown = min(retry_after if retry_after is not None else self.cooldown_s, _MAX_COOLDOWN_S)
        self._failed_until[provider.name] = time.monotonic() + cooldown
        if successor is not None:
            _FALLBACKS.inc(provider=provider.name)
            _LOGGER.warning("llm provider %s failed before any text (%s); trying %s", provider.name, reason,
                            successor.name)
        else:
            _LOGGER.warning("llm provider %s failed before any text (%s); no provider left", provider.name, reason)

    def _candidates(self, request: LlmRequest) -> list[LlmProvider]:
        """Providers with a model for the request; those cooling down only when nothing else is left."""
        usable = [p for p in self.providers if p.available_for(request)]
        now = time.monotonic()
        healthy = [p for p in usable if self._failed_until.get(p.name, 0.0) <= now]
        return healthy or usable

    async def close(self) -> None:
        """Close every provider."""
        for provider in self.providers:
            await provider.close()


@dataclass
class _Attempt:
    """One provider's answer so far; once released, no other provider can take over."""

    text: str = ""
    held: list[LlmChunk] = field(default_factory=list)
    released: bool = False

    def add(self, chunk: LlmChunk, ready: Callable[[str], bool]) -> list[LlmChunk]:
        """The chunks that may go out now: none while held, all held ones once `ready`."""
        self.text += chunk.text
        if self.released:
            return [chunk]
        self.held.append(chunk)
        return self.release() if ready(self.text) else []

    def release(self) -> list[LlmChunk]:
        """Hand out what is held (at the end of a complete answer, or once it is ready)."""
        self.released = True
        waiting, self.held = self.held, []
        return waiting


def _reason(err: Exception) -> str:
    if isinstance(err, TimeoutError):
        return "no text in time"
    return str(err) or type(err).__name__
