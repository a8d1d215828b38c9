"""`nexus-wyoming sessions list|show|purge`: readable tables of what is stored."""

import re
import time
from typing import Optional

from .model import DeviceSummary, Session

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_MAX_CELL = 60


def parse_duration(text: str) -> float:
    """"30d", "12h", "90m", "45s", "2w" (also combined: "1d12h") → seconds; ValueError otherwise."""
    position, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_S[match.group(2).lower()]
        position = match.end()
    if position != len(text) or not text.strip():
        raise ValueError(f"{text!r} is not a duration like 30d, 12h, 90m or 45s")
    return total


def shown(text: Optional[str], limit: Optional[int] = None) -> str:
    """Text safe to print on a terminal: control characters as escapes, optionally cut."""
    if text is None:
        return "-"
    safe = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    if limit is not None and len(safe) > limit:
        safe = safe[: limit - 1] + "…"
    return safe


def when(epoch: float, now: Optional[float] = None) -> str:
    """Local time and age: `2025-05-01 14:03 (3h ago)`."""
    now = time.time() if now is None else now
    age = max(0.0, now - epoch)
    for unit, seconds in (("d", 86400), ("h", 3600), ("m", 60)):
        if age >= seconds:
            ago = f"{int(age // seconds)}{unit} ago"
            break
    else:
        ago = "just now"
    return f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(epoch))} ({ago})"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
             for line in [headers, ["-" * w for w in widths], *rows]]
    return "\n".join(lines)


def devices_table(devices: list[DeviceSummary], now: Optional[float] = None) -> str:
    """The `list` output."""
    rows = [[shown(d.device_id, _MAX_CELL), str(d.sessions), str(d.messages), when(d.last_active, now)]
            for d in devices]
    return table(["DEVICE", "SESSIONS", "MESSAGES", "LAST ACTIVE"], rows)


def sessions_text(device: str, sessions: list[Session], now: Optional[float] = None) -> str:
    """The `show` output: each session, newest first, with its messages."""
    parts = []
    for session in sessions:
        parts.append(f"session {session.id}  conversation {shown(session.conversation_id)}  mode {shown(session.mode)}"
                     f"  started {when(session.created, now)}  last active {when(session.last_active, now)}")
        if session.context:
            parts.append(f"  context: {shown(session.context)}")
        for message in session.history:
            stamp = time.strftime("%H:%M:%S", time.localtime(message.created))
            flag = " (cut short)" if message.partial else ""
            parts.append(f"  {stamp} {message.role:>9}: {shown(message.text)}{flag}")
        parts.append("")
    return f"device {shown(device)}\n\n" + "\n".join(parts)
