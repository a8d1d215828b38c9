"""A stable id per device, so conversations follow the speaker in the room."""

import hashlib
import os
import re
import uuid
from pathlib import Path
from typing import Optional

MACHINE_ID = Path("/etc/machine-id")
_FILE_NAME = "device-id"
_STORED_ID = re.compile(r"[0-9a-f]{32}")


def device_id(data_dir: Path, override: Optional[str] = None, machine_id: Path = MACHINE_ID) -> str:
    """`override`, else derived from /etc/machine-id, else a UUID persisted in `data_dir`."""
    if override:
        return override
    raw = _read(machine_id)
    if _STORED_ID.fullmatch(raw):  # systemd may leave "uninitialized" there on first boot
        # Not the machine id itself: systemd asks applications not to expose it.
        return hashlib.sha256(f"nexus-satellite:{raw}".encode()).hexdigest()[:32]
    stored = data_dir / _FILE_NAME
    existing = _read(stored)
    if _STORED_ID.fullmatch(existing):
        return existing
    return _persist(stored, uuid.uuid4().hex)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _persist(path: Path, value: str) -> str:
    """Write atomically and durably: a power cut must not leave a corrupt id behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    with open(partial, "w", encoding="ascii") as file:
        file.write(value)
        file.flush()
        os.fsync(file.fileno())
    partial.replace(path)
    return value
