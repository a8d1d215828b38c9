"""The small interface every LLM provider implements; providers know nothing about Wyoming."""

import time
from dataclasses import dataclass, field
from typing import AsyncIterator, Mapping, Optional, Protocol


@dataclass(frozen=True)
class ChatMessage:
    """One message of a chat prompt."""

    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class LlmRequest:
    """What to ask: the prompt, how long the answer may be, and which model each provider uses."""

    messages: tuple[ChatMessage, ...]
    max_tokens: int
    models: Mapping[str, str] = field(default_factory=dict)
    """Provider name → model name (a mode uses a small or a large model on each provider)."""
    temperature: float = 0.6


@dataclass(frozen=True)
class LlmChunk:
    """A piece of the streamed answer; the last one may carry only the token count."""

    text: str
    provider: str = ""
    completion_tokens: Optional[int] = None
    """Tokens of the whole answer, when the provider reports usage (on its last chunk)."""
    fallbacks: int = 0
    """Providers that failed before this one answered (set by the fallback chain)."""
    at: float = field(default_factory=time.perf_counter)
    """When it arrived (the chain may hold chunks back a while: latency metrics use this)."""


class LlmError(Exception):
    """A provider failed: connection, HTTP status, broken or malformed stream, no model."""

    def __init__(self, message: str, status: Optional[int] = None, retry_after_s: Optional[float] = None,
                 after_text: bool = False, fallbacks: int = 0, busy: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s
        self.after_text = after_text
        """True when part of the answer had been streamed already: no provider can take over."""
        self.fallbacks = fallbacks
        """Providers given up on before this failure (set by the fallback chain)."""
        self.busy = busy
        """The provider is working for other turns and its queue is full (say "busy", not "unreachable")."""


class LlmProvider(Protocol):
    """Streams a chat completion.

    A provider may also have `async prepare(request)`: get ready while the prompt is not yet
    complete (a web search runs), e.g. open its connection; it never raises.
    """

    name: str
    paid: bool
    """Whether its calls cost the owner money or quota (cloud providers): rate-limited per peer."""

    def available_for(self, request: LlmRequest) -> bool:
        """Whether this provider can serve the request at all (it has a model for it)."""

    def stream(self, request: LlmRequest) -> AsyncIterator[LlmChunk]:
        """Yield the answer as it is generated (an async generator); raise LlmError on failure."""

    async def close(self) -> None:
        """Release connections."""
