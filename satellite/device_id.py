"""A stable id per device, so conversations follow the speaker in the room."""

import hashlib
import uuid
from pathlib import Path
from typing import Optional

MACHINE_ID = Path("/etc/machine-id")
_FILE_NAME = "device-id"


def device_id(data_dir: Path, override: Optional[str] = None, machine_id: Path = MACHINE_ID) -> str:
    """`override`, else derived from /etc/machine-id, else a UUID persisted in `data_dir`."""
    if override:
        return override
    try:
        raw = machine_id.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        raw = ""
    if raw:
        # Not the machine id itself: systemd asks applications not to expose it.
        return hashlib.sha256(f"nexus-satellite:{raw}".encode()).hexdigest()[:32]
    stored = data_dir / _FILE_NAME
    try:
        existing = stored.read_text(encoding="ascii").strip()
        if existing:
            return existing
    except (OSError, UnicodeDecodeError):
        pass
    new_id = uuid.uuid4().hex
    data_dir.mkdir(parents=True, exist_ok=True)
    partial = stored.with_suffix(".tmp")
    partial.write_text(new_id, encoding="ascii")
    partial.replace(stored)
    return new_id
