"""The small interface every speech-to-text engine implements; engines know nothing about Wyoming.

Audio reaching an engine is always 16 kHz, 16-bit little-endian mono PCM (the handler
converts whatever the client declared). One utterance is one session.
"""

from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol

SAMPLE_RATE = 16000

#: Called with the growing partial transcript while audio arrives (must not block).
PartialCallback = Callable[[str], None]


class SttError(Exception):
    """An engine could not transcribe (bad key, network, model missing...)."""

    def __init__(self, text: str = "", *, retry_after_s: Optional[float] = None) -> None:
        super().__init__(text)
        self.retry_after_s = retry_after_s  # the provider's Retry-After; None: our own cool-down


class SttBusyError(SttError):
    """Too many utterances queued for this engine; the client should retry later."""


@dataclass(frozen=True)
class SttRequest:
    """What the client asked for in `transcribe`."""

    language: Optional[str] = None
    names: list[str] = field(default_factory=list)
    """Words to bias recognition towards (device names, terms)."""


class SttSession(Protocol):
    """One utterance being recognised."""

    async def feed(self, audio: bytes) -> None:
        """Add 16 kHz mono 16-bit audio; may call the partial callback."""

    async def transcribe(self) -> str:
        """Final text for all audio fed so far; may be called again after more audio."""

    async def close(self) -> None:
        """Stop work and release resources (also on cancel / client gone)."""


class SttEngine(Protocol):
    """Creates sessions; shared by all connections."""

    name: str

    def languages(self) -> list[str]:
        """Languages offered, for `describe`."""

    async def open(self, request: SttRequest, on_partial: Optional[PartialCallback] = None) -> SttSession:
        """Start recognising one utterance; raise SttError if impossible."""

    async def close(self) -> None:
        """Release models and connections."""
