"""Where the shipped YAML files of `config/` are: beside the package in a checkout, or
under `<prefix>/share/nexus-wyoming/config` where a wheel installed them."""

import sys
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent / "config"
_INSTALLED = Path(sys.prefix) / "share" / "nexus-wyoming" / "config"


def shipped_config(name: str) -> Path:
    """Path of a shipped config file, e.g. `modes.yaml` (the installed one if no checkout)."""
    checkout = _CHECKOUT / name
    return checkout if checkout.is_file() else _INSTALLED / name
