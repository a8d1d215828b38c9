"""The Wyoming side of device contexts: `nexus-update-context` → `nexus-context-updated` | `error`.

    client → {"type": "nexus-update-context", "data": {"device_id": "kitchen", "text": "...", "secret"?: "..."}}
    server ← {"type": "nexus-context-updated", "data": {"device_id": "kitchen", "text": "<as stored>"}}
    server ← {"type": "error", "data": {"text": "...", "code": "unauthorized" | "bad-device-id" |
                                        "bad-context" | "context-refused" | "store-unavailable"}}

Empty text removes the device's context (a context from YAML then applies again). With
`sessions.context_secret` set, an update without that exact `secret` is refused
(`unauthorized`, compared in constant time); without it, anyone who can connect may
rewrite any device's context.
"""

import hmac
from dataclasses import dataclass
from typing import Any, Optional

from wyoming.error import Error
from wyoming.event import Event

from .context import MAX_CONTEXT_CHARS, ContextRefused
from .identity import clean_device
from .manager import SessionManager, StoreUnavailable

UPDATE_CONTEXT_TYPE = "nexus-update-context"
CONTEXT_UPDATED_TYPE = "nexus-context-updated"
#: Text longer than this is refused before it is even sanitized (the cap after is 2000).
MAX_RAW_CONTEXT_CHARS = 16 * MAX_CONTEXT_CHARS


@dataclass
class UpdateContext:
    """Set the context a device adds to the system prompt."""

    device_id: Any
    text: Any
    secret: Any = None

    def event(self) -> Event:
        data = {"device_id": self.device_id, "text": self.text}
        if self.secret is not None:
            data["secret"] = self.secret
        return Event(type=UPDATE_CONTEXT_TYPE, data=data)

    @staticmethod
    def is_type(event_type: str) -> bool:
        return event_type == UPDATE_CONTEXT_TYPE

    @staticmethod
    def from_event(event: Event) -> "UpdateContext":
        data = event.data if isinstance(event.data, dict) else {}
        return UpdateContext(data.get("device_id"), data.get("text"), data.get("secret"))


@dataclass
class ContextUpdated:
    """The context now in effect for a device (None: none set over Wyoming)."""

    device_id: str
    text: Optional[str]

    def event(self) -> Event:
        return Event(type=CONTEXT_UPDATED_TYPE, data={"device_id": self.device_id, "text": self.text})

    @staticmethod
    def is_type(event_type: str) -> bool:
        return event_type == CONTEXT_UPDATED_TYPE

    @staticmethod
    def from_event(event: Event) -> "ContextUpdated":
        data = event.data or {}
        return ContextUpdated(data.get("device_id", ""), data.get("text"))


async def handle_update_context(manager: SessionManager, event: Event) -> Event:
    """The reply to a `nexus-update-context` event; never raises for bad input."""
    request = UpdateContext.from_event(event)
    if not authorized(manager.settings.context_secret, request.secret):
        return Error("a valid 'secret' is required to change contexts", "unauthorized").event()
    device = clean_device(request.device_id)
    if device is None:
        return Error("device_id must be a printable string of 1 to 128 characters", "bad-device-id").event()
    if not isinstance(request.text, str):
        return Error("text must be a string", "bad-context").event()
    if len(request.text) > MAX_RAW_CONTEXT_CHARS:
        return Error(f"text is longer than {MAX_RAW_CONTEXT_CHARS} characters", "bad-context").event()
    try:
        stored = await manager.set_context(device, request.text)
    except ContextRefused as err:
        return Error(str(err), "context-refused").event()
    except StoreUnavailable:
        return Error("the context could not be saved; try again later", "store-unavailable").event()
    return ContextUpdated(device, stored).event()


def authorized(secret: Optional[str], given: Any) -> bool:
    """True when no secret is configured, or `given` is it (compared in constant time)."""
    if not secret:
        return True
    return isinstance(given, str) and hmac.compare_digest(secret.encode(), given.encode("utf-8", "replace"))
