"""Bounded Wyoming event reading: every length from the wire is checked before use.

`wyoming.event.async_read_event` trusts `data_length` and `payload_length` and raises on
a header that is not an object; a LAN-facing server cannot. Here a bad header becomes
a ProtocolError that the server answers with an `error` event before closing.
"""

import asyncio
import json
from typing import Any, Optional

from wyoming.event import Event

from ..config import Limits

MAX_TYPE_CHARS = 128


class ProtocolError(Exception):
    """The client broke the protocol; the connection cannot continue."""

    def __init__(self, text: str, code: str = "bad-event") -> None:
        super().__init__(text)
        self.text = text
        self.code = code


async def read_event(reader: asyncio.StreamReader, limits: Limits) -> Optional[Event]:
    """Read one event, or None at a clean end of stream; raise ProtocolError on bad input."""
    line = await _read_line(reader, limits.max_header_bytes)
    if line is None:
        return None
    header = _parse_object(line, "header")
    event_type = header.get("type")
    if not isinstance(event_type, str) or not event_type or len(event_type) > MAX_TYPE_CHARS:
        raise ProtocolError("header 'type' must be a non-empty string")

    data = header.get("data")
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        raise ProtocolError("header 'data' must be an object")

    data_length = _length(header, "data_length", limits.max_data_bytes)
    payload_length = _length(header, "payload_length", limits.max_payload_bytes)
    if data_length:
        data.update(_parse_object(await _read_exactly(reader, data_length), "data"))
    payload = await _read_exactly(reader, payload_length) if payload_length else None
    return Event(type=event_type, data=data, payload=payload)


async def _read_line(reader: asyncio.StreamReader, limit: int) -> Optional[bytes]:
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as err:
        if not err.partial.strip():
            return None
        raise ProtocolError("connection closed inside a header") from err
    except asyncio.LimitOverrunError as err:
        raise ProtocolError(f"header line longer than {limit} bytes", "too-large") from err
    if len(line) > limit:
        raise ProtocolError(f"header line longer than {limit} bytes", "too-large")
    if not line.strip():
        raise ProtocolError("empty header line")
    return line


async def _read_exactly(reader: asyncio.StreamReader, length: int) -> bytes:
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError as err:
        raise ProtocolError("connection closed before the announced bytes arrived") from err


def _parse_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ProtocolError(f"{what} is not valid JSON") from err
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} must be a JSON object")
    return value


def _length(header: dict[str, Any], key: str, maximum: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"'{key}' must be an integer")
    if value < 0:
        raise ProtocolError(f"'{key}' must not be negative")
    if value > maximum:
        raise ProtocolError(f"'{key}' {value} exceeds the limit of {maximum} bytes", "too-large")
    return value
