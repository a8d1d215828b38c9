"""Which device a request comes from: the key that conversations are kept under."""

from typing import Any, Optional

MAX_DEVICE_CHARS = 128

#: Where our own satellite puts its device id in `transcript.context`.
SATELLITE_DEVICE_FIELD = "nexus_device_id"

#: Context fields that name the device, best first (Home Assistant sends the first two
#: in newer versions and only `conversation_id` in 2025.4).
DEVICE_FIELDS = ("satellite_id", "device_id", SATELLITE_DEVICE_FIELD, "conversation_id")


def clean_device(value: Any) -> Optional[str]:
    """`value` when it is a usable device id (printable string, 1-128 chars), else None."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_DEVICE_CHARS:
        return None
    if not value.isprintable() or not value.strip():
        return None
    return value


def device_key(context: Any) -> Optional[str]:
    """The device a `transcript.context` comes from; None when it names none. Never raises."""
    if not isinstance(context, dict):
        return None
    for name in DEVICE_FIELDS:
        key = clean_device(context.get(name))
        if key is not None:
            return key
    return None
