"""A chain of LLM providers that is itself a provider: the next one takes over on failure.

A provider fails when it cannot connect, answers with an HTTP error, gives no text
within `first_token_timeout_s` (the last provider gets `last_token_timeout_s`), or its
stream breaks before any text. The next provider then answers the same request, and
the listener never knows. Once text has been streamed no one can take over without
repeating it: the failure is raised with `after_text=True` for the caller to end the
reply gracefully. A failed provider is skipped for a cool-down (the provider's
`retry-after` when it sent one) so later turns don't each pay its timeout again.
"""

import asyncio
import dataclasses
import logging
import time
from typing import AsyncIterator, Sequence

from ...metrics import REGISTRY
from ..llm import LlmChunk, LlmError, LlmProvider, LlmRequest

_LOGGER = logging.getLogger(__name__)
_FALLBACKS = REGISTRY.counter("nexus_intent_llm_fallbacks_total", "Requests moved to the next LLM provider")
_MAX_COOLDOWN_S = 600.0


class FallbackProvider:
    """Tries each provider in order until one streams text."""

    name = "fallback"

    def __init__(self, providers: Sequence[LlmProvider], first_token_timeout_s: float,
                 last_token_timeout_s: float, cooldown_s: float = 30.0) -> None:
        self.providers = list(providers)
        self.first_token_timeout_s = first_token_timeout_s
        self.last_token_timeout_s = last_token_timeout_s
        self.cooldown_s = cooldown_s
        self._failed_until: dict[str, float] = {}

    def available_for(self, request: LlmRequest) -> bool:
        return any(p.available_for(request) for p in self.providers)

    async def stream(self, request: LlmRequest) -> AsyncIterator[LlmChunk]:
        """Chunks from the first provider that answers in time, each marked with its name."""
        candidates = self._candidates(request)
        if not candidates:
            raise LlmError("no LLM provider is configured for this mode")
        for index, provider in enumerate(candidates):
            last = index == len(candidates) - 1
            loop = asyncio.get_running_loop()
            deadline = loop.time() + (self.last_token_timeout_s if last else self.first_token_timeout_s)
            chunks = provider.stream(request)
            started = False
            try:
                while True:
                    async with asyncio.timeout_at(None if started else deadline):
                        chunk = await anext(chunks, None)
                    if chunk is None:
                        break
                    started = started or bool(chunk.text)
                    yield dataclasses.replace(chunk, provider=provider.name, fallbacks=index)
            except Exception as err:  # any failure of a provider means: the next one, if it can
                reason = _reason(err)
                if started:
                    raise LlmError(f"{provider.name} broke off: {reason}", after_text=True, fallbacks=index) from err
                self._failed(provider, err, reason, None if last else candidates[index + 1])
                if last:
                    raise LlmError(f"no LLM provider answered (last: {provider.name}: {reason})",
                                   fallbacks=index) from err
                continue
            finally:
                await chunks.aclose()
            self._failed_until.pop(provider.name, None)
            return

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


def _reason(err: Exception) -> str:
    if isinstance(err, TimeoutError):
        return "no text in time"
    return str(err) or type(err).__name__
