"""Final text from one engine, live partials from another.

Whisper is accurate but only decodes whole utterances; pocketsphinx is cheap and
incremental but often wrong. The hybrid feeds both: partials come from the helper
while the audio streams, the final transcript from the accurate engine. The helper is
optional per utterance: an unknown language (pocketsphinx is English only) or a full
decoder pool just means no partials, never an error.
"""

import logging
from typing import Optional

from .engine import PartialCallback, SttEngine, SttError, SttRequest, SttSession

_LOGGER = logging.getLogger(__name__)


class HybridEngine:
    """`final` transcribes; `partials` (when it can) shows progress."""

    def __init__(self, final: SttEngine, partials: Optional[SttEngine]) -> None:
        self.final = final
        self.partials = partials
        self.name = final.name

    def languages(self) -> list[str]:
        """What the final engine understands."""
        return self.final.languages()

    async def open(self, request: SttRequest, on_partial: Optional[PartialCallback] = None) -> "HybridSession":
        """Open the final engine; add the partial helper when it is available."""
        session = await self.final.open(request, None)
        helper: Optional[SttSession] = None
        if on_partial is not None and self.partials is not None:
            try:
                helper = await self.partials.open(request, on_partial)
            except SttError as err:
                _LOGGER.debug("no partials for this utterance: %s", err)
        return HybridSession(session, helper)

    async def close(self) -> None:
        """Close both engines."""
        await self.final.close()
        if self.partials is not None:
            await self.partials.close()


class HybridSession:
    """Feeds both sessions; transcribes with the final one only."""

    def __init__(self, final: SttSession, helper: Optional[SttSession]) -> None:
        self.final = final
        self.helper = helper

    @property
    def has_partials(self) -> bool:
        """True when this utterance gets partials."""
        return self.helper is not None

    async def feed(self, audio: bytes) -> None:
        """Both engines get the audio; the helper never blocks (it drops partials if late)."""
        await self.final.feed(audio)
        if self.helper is not None:
            await self.helper.feed(audio)

    async def transcribe(self) -> str:
        """The final engine's text."""
        return await self.final.transcribe()

    async def close(self) -> None:
        """Close both."""
        try:
            await self.final.close()
        finally:
            if self.helper is not None:
                await self.helper.close()
