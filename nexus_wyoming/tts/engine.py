"""The small interface every TTS engine implements; engines know nothing about Wyoming."""

from dataclasses import dataclass, field
from typing import AsyncIterator, Optional, Protocol


class TtsError(Exception):
    """An engine could not synthesize (bad key, network, unusable answer...).

    `retry_after_s` is the provider's own "try again in" (HTTP `retry-after`): the
    fallback chain skips the engine that long instead of its usual cool-down.
    """

    def __init__(self, message: str, retry_after_s: Optional[float] = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UnknownVoiceError(TtsError):
    """The requested voice is not offered by this engine."""


@dataclass(frozen=True)
class VoiceInfo:
    """A voice an engine offers, as listed in `info`."""

    name: str
    languages: list[str]
    description: str = ""
    speakers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class VoiceRequest:
    """Which voice the client asked for; all None means the engine's default."""

    name: Optional[str] = None
    speaker: Optional[str] = None
    language: Optional[str] = None


@dataclass(frozen=True)
class TtsAudio:
    """A piece of 16-bit little-endian PCM audio produced by an engine."""

    audio: bytes
    rate: int
    width: int = 2
    channels: int = 1
    engine: str = ""
    """Which engine made it; set by the fallback chain for metrics."""


class TtsEngine(Protocol):
    """Turns one synthesis unit (a short text) into a stream of PCM audio."""

    name: str

    def voices(self) -> list[VoiceInfo]:
        """Voices offered, for `describe`."""

    def synthesize(self, text: str, voice: VoiceRequest) -> AsyncIterator[TtsAudio]:
        """Yield audio for `text` as it is produced (an async generator); raise TtsError on failure."""

    async def close(self) -> None:
        """Release connections and models."""
