"""A `transcript` event as a turn: text, conversation id, device, requested mode — validated.

Home Assistant sends `{"text", "context": {"conversation_id", "device_id"?, "satellite_id"?},
"language"?}`. Anything a client could get wrong in ways HA never does (text that is not
a string, an unknown or non-string `context.mode`) is a BadRequest, answered with an
`error` event; a context that is not an object, or fields in it of the wrong kind, are
ignored (a conversation id that is not 1-128 letters, digits, `.`, `_`, `:` or `-` is
replaced by a fresh one). Empty or over-long text is not an error: the turn answers it with speech.
"""

import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any, Optional

from ..sessions import clean_conversation, device_key

MAX_ID_CHARS = 128
MAX_LANGUAGE_CHARS = 16


class BadRequest(Exception):
    """The request cannot be served; answered with an `error` event."""

    def __init__(self, text: str, code: str) -> None:
        super().__init__(text)
        self.code = code


@dataclass(frozen=True)
class TurnRequest:
    """One thing to answer."""

    text: str
    conversation_id: str
    """The client's conversation id, or one made up for it (then `conversation_given` is False)."""
    device: Optional[str] = None
    mode: Optional[str] = None
    language: Optional[str] = None
    peer: str = ""
    """The client's address: its rate limits are shared by all its connections."""
    conversation_given: bool = True

    def reply_context(self) -> dict[str, str]:
        """The `context` our answer carries: the conversation to continue."""
        return {"conversation_id": self.conversation_id}


def clean_text(value: str) -> str:
    """Without control or format characters; line breaks and tabs become spaces."""
    return " ".join("".join(" " if ch.isspace() else ch for ch in value
                            if ch.isspace() or unicodedata.category(ch)[0] != "C").split())


def parse_transcript(data: Any, modes: tuple[str, ...], peer: str = "") -> TurnRequest:
    """The turn a `transcript` event asks for; BadRequest when it cannot be answered at all."""
    data = data if isinstance(data, dict) else {}
    text = data.get("text")
    if not isinstance(text, str):
        raise BadRequest("'text' must be a string", "bad-text")
    context = data.get("context") if isinstance(data.get("context"), dict) else {}
    mode = context.get("mode")
    if mode is not None and (not isinstance(mode, str) or mode not in modes):
        shown = mode[:40] if isinstance(mode, str) else type(mode).__name__
        raise BadRequest(f"unknown mode {shown!r}; one of {', '.join(modes)}", "unknown-mode")
    language = data.get("language")
    if not (isinstance(language, str) and 0 < len(language) <= MAX_LANGUAGE_CHARS and language.isprintable()):
        language = None
    conversation_id = clean_conversation(context.get("conversation_id"))  # else a fresh one, as HA does
    return TurnRequest(clean_text(text), conversation_id or uuid.uuid4().hex, device_key(context), mode, language,
                       peer, conversation_given=conversation_id is not None)
