"""Reply parts as Wyoming events: `handled-start`, `handled-chunk` per sentence, the compatibility
`handled` with the whole text (always), `handled-stop`; or a single `handled` / `not-handled`.

Chunks carry the separating space, so joining their texts gives exactly `handled.text`.
Home Assistant 2025.4 (wyoming 1.5.4) reads events until `handled`/`not-handled` and
skips types it does not know, so the stream costs it nothing; it may close the
connection right after `handled`, which is why a failed `handled-stop` is no error.
"""

import contextlib
from typing import Awaitable, Callable

from wyoming.event import Event
from wyoming.handle import Handled, HandledChunk, HandledStart, HandledStop, NotHandled

from ..protocol.server import ClientGone
from .assistant import Final, ReplyPart, Sentence


class ReplyWriter:
    """Writes one turn's reply."""

    def __init__(self, write: Callable[[Event], Awaitable[None]], context: dict, stream: bool) -> None:
        self.write = write
        self.context = context
        self.stream = stream
        self.chunks = 0

    async def send(self, part: ReplyPart) -> None:
        """Write what a reply part means on the wire."""
        if isinstance(part, Sentence):
            if not self.stream:
                return
            if self.chunks == 0:
                await self.write(HandledStart(context=self.context).event())
            await self.write(HandledChunk(text=part.text if self.chunks == 0 else " " + part.text).event())
            self.chunks += 1
        elif isinstance(part, Final):
            if not part.handled:
                await self.write(NotHandled(text=part.text, context=self.context).event())
                return
            await self.write(Handled(text=part.text, context=self.context).event())
            if self.chunks:
                with contextlib.suppress(ClientGone):
                    await self.write(HandledStop().event())
