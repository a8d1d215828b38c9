"""Whose conversation a request continues: the key that sessions are kept under.

A session is kept under the device when the request names one, else under its
conversation id (`conversation:<id>`): Home Assistant 2025.4 and typed chat send only
`conversation_id`. A device's session also remembers its conversation id, and a request
from the device with another one starts a new session (see `SessionManager.begin_turn`).
"""

import re
from typing import Any, Optional

MAX_DEVICE_CHARS = 128
MAX_CONVERSATION_CHARS = 128

#: Where our own satellite puts its device id in `transcript.context`.
SATELLITE_DEVICE_FIELD = "nexus_device_id"

#: Context fields that name the device, best first (Home Assistant sends the first two in
#: newer versions, and only `conversation_id` in 2025.4).
DEVICE_FIELDS = ("satellite_id", "device_id", SATELLITE_DEVICE_FIELD)

#: The session key of a conversation that names no device; no device id may start with it.
CONVERSATION_PREFIX = "conversation:"

#: Home Assistant's ULIDs, UUIDs (with or without dashes), and other plain tokens.
_CONVERSATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


def clean_device(value: Any) -> Optional[str]:
    """`value` when it is a usable device id (printable string, 1-128 chars, not a conversation key), else None."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_DEVICE_CHARS:
        return None
    if not value.isprintable() or not value.strip() or value.startswith(CONVERSATION_PREFIX):
        return None
    return value


def clean_conversation(value: Any) -> Optional[str]:
    """`value` when it is a usable conversation id (1-128 ASCII letters, digits, `.`, `_`, `:`, `-`), else None."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CONVERSATION_CHARS:
        return None
    return value if _CONVERSATION_ID.fullmatch(value) else None


def device_key(context: Any) -> Optional[str]:
    """The device a `transcript.context` comes from; None when it names none. Never raises."""
    if not isinstance(context, dict):
        return None
    for name in DEVICE_FIELDS:
        key = clean_device(context.get(name))
        if key is not None:
            return key
    return None


def session_key(device: Optional[str], conversation: Optional[str]) -> Optional[str]:
    """What a session is kept under: the device, else `conversation:<id>`; None for neither."""
    if device is not None:
        return device
    return CONVERSATION_PREFIX + conversation if conversation is not None else None
