"""Model text made fit for a voice: markdown marks removed, links reduced to their words, the
stream cut into pieces that can be spoken as they complete, and the reply held to its caps."""

import re
from typing import Optional

from ..tts.sentences import SentenceBuffer
from ..tts.units import MIN_CLAUSE_CHARS

_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((?:[^)\s]{1,500})\)")
_BARE_URL = re.compile(r"https?://\S+")
_MARKS = re.compile(r"(\*\*|__|\*|`+|~~)")
_LINE_START = re.compile(r"(?m)^\s*(?:#{1,6}\s+|[-*•+]\s+|>\s*)")
_SPACES = re.compile(r"\s+")
#: The first piece of a streamed reply is cut at a clause once it is this long, so speech starts early.
FIRST_CHUNK_CHARS = 60


def speakable(sentence: str) -> str:
    """The sentence without markdown emphasis, headings, bullets, code ticks or URLs."""
    text = _LINK.sub(r"\1", sentence)
    text = _BARE_URL.sub("", text)
    text = _LINE_START.sub("", text)
    text = _MARKS.sub("", text)
    return _SPACES.sub(" ", text).strip()


class SpokenReply:
    """A streamed reply as it will be spoken: whole sentences (the first may be an opening
    clause), at most `max_chars` of them and at most `max_tokens` streamed pieces in all.

    Past a cap the reply is `full`: it ends at the last whole sentence, and the caller
    stops the stream (the model would otherwise go on costing time and quota).
    """

    def __init__(self, max_chars: int = 100_000, max_tokens: Optional[int] = None) -> None:
        self.max_chars = max_chars
        self.max_tokens = max_tokens
        self.spoken: list[str] = []
        self.chars = 0
        self.tokens = 0
        self.full = False
        self._buffer = SentenceBuffer()

    def add(self, text: str) -> list[str]:
        """The pieces this streamed text completes (none once full)."""
        if self.full or not text:
            return []
        self.tokens += 1
        pieces = self._buffer.add(text)
        if not pieces and not self.spoken:
            opening = self._buffer.take_opening(MIN_CLAUSE_CHARS, FIRST_CHUNK_CHARS)
            pieces = [opening] if opening else []
        said = self._say(pieces)
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            self.full = True
        return said

    def finish(self) -> list[str]:
        """The rest, at the end of the stream; nothing after a cap (it would end mid-sentence)."""
        pieces = self._buffer.flush()
        return [] if self.full else self._say(pieces)

    def _say(self, pieces: list[str]) -> list[str]:
        said = []
        for piece in pieces:
            text = speakable(piece)
            if not text or self.full:
                continue
            if self.chars + len(text) + len(self.spoken) > self.max_chars:
                self.full = True
                if self.spoken:
                    break
                text = text[: self.max_chars].rsplit(" ", 1)[0]  # a first sentence alone over the cap
            self.spoken.append(text)
            self.chars += len(text)
            said.append(text)
        return said

    @property
    def text(self) -> str:
        """Everything spoken, as one text."""
        return " ".join(self.spoken)


def first_piece_ready(text: str) -> bool:
    """Whether a reply starting with `text` has something to speak already (the fallback chain's gate)."""
    return bool(SpokenReply().add(text))
