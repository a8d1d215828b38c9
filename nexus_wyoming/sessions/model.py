"""What a conversation is made of: sessions and their messages."""

import math
from dataclasses import dataclass, field
from typing import Any, Optional

USER = "user"
ASSISTANT = "assistant"
_MAX_LATENCIES = 32
_MAX_LATENCY_NAME = 64
_MAX_MODE_CHARS = 64
_CUT_MARK = "…"


@dataclass
class Message:
    """One utterance of a turn."""

    role: str
    text: str
    created: float
    latencies: dict[str, float] = field(default_factory=dict)
    partial: bool = False

    def to_json(self) -> dict[str, Any]:
        """A plain dict for Redis and logs."""
        return {"role": self.role, "text": self.text, "created": self.created,
                "latencies": self.latencies, "partial": self.partial}

    @staticmethod
    def from_json(data: Any) -> "Message":
        """The inverse of to_json; ValueError on anything else."""
        if not isinstance(data, dict) or data.get("role") not in (USER, ASSISTANT):
            raise ValueError("not a message")
        if not isinstance(data.get("text"), str) or not isinstance(data.get("created"), (int, float)):
            raise ValueError("not a message")
        return Message(data["role"], data["text"], float(data["created"]),
                       clean_latencies(data.get("latencies")), bool(data.get("partial")))


@dataclass
class Session:
    """One conversation of one device (or of one conversation id that names no device);
    a new one starts after the idle expiry, or when the device starts another conversation."""

    id: str
    device_id: Optional[str]
    """The session key: the device id, or `conversation:<id>` (see `identity.session_key`)."""
    mode: Optional[str]
    context: Optional[str]
    created: float
    last_active: float
    history: list[Message] = field(default_factory=list)
    is_new: bool = True
    conversation_id: Optional[str] = None
    """The conversation the client continues (the id our replies carry); None in sessions stored before it."""

    @property
    def anonymous(self) -> bool:
        """A request that named neither device nor conversation: answered, never stored."""
        return self.device_id is None

    def summary(self) -> dict[str, Any]:
        """The stored columns, for Redis."""
        return {"id": self.id, "device_id": self.device_id, "mode": self.mode, "context": self.context,
                "created": self.created, "last_active": self.last_active, "conversation_id": self.conversation_id}


@dataclass(frozen=True)
class DeviceSummary:
    """One line of `nexus-wyoming sessions list`."""

    device_id: str
    sessions: int
    messages: int
    last_active: float


def storable_text(value: Any, max_chars: int) -> str:
    """Text as it is stored: no NUL (PostgreSQL refuses it), valid UTF-8, at most `max_chars`."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    text = text.replace("\x00", "")
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates → "?"
    if len(text) > max_chars:
        text = text[: max_chars - len(_CUT_MARK)] + _CUT_MARK
    return text


def clean_latencies(value: Any) -> dict[str, float]:
    """Stage latencies as stored: at most 32 finite numbers under short string names."""
    if not isinstance(value, dict):
        return {}
    cleaned: dict[str, float] = {}
    for name, number in value.items():
        if len(cleaned) >= _MAX_LATENCIES:
            break
        if not isinstance(name, str) or not 0 < len(name) <= _MAX_LATENCY_NAME or not name.isprintable():
            continue
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            continue
        cleaned[name] = float(number)
    return cleaned


def clean_mode(value: Any) -> Optional[str]:
    """A mode name as stored: a short printable string, else None."""
    if isinstance(value, str) and 0 < len(value) <= _MAX_MODE_CHARS and value.isprintable():
        return value
    return None
