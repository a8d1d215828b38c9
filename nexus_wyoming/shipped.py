"""Where our files live: the shipped YAML files of `config/` (beside the package in a
checkout, or under `<prefix>/share/nexus-wyoming/config` where a wheel installed them),
and the per-user state directory."""

import os
import sys
from typing import Optional
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent / "config"
_INSTALLED = Path(sys.prefix) / "share" / "nexus-wyoming" / "config"


def shipped_config(name: str) -> Path:
    """Path of a shipped config file, e.g. `modes.yaml` (the installed one if no checkout)."""
    checkout = _CHECKOUT / name
    return checkout if checkout.is_file() else _INSTALLED / name


def state_dir(app: str, configured: Optional[str] = None) -> Path:
    """`configured`, else `${XDG_DATA_HOME:-~/.local/share}/<app>`: where an app keeps its state."""
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / app
