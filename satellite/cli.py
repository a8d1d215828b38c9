"""`nexus-satellite`: the satellite's command line."""

import os
from pathlib import Path
from typing import Optional

import click

from .device_id import device_id


def _data_dir(value: Optional[str]) -> Path:
    if value:
        return Path(value).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "nexus-satellite"


@click.group()
def main() -> None:
    """Nexus Wyoming satellite for a Raspberry Pi speaker."""


@main.command("device-id")
@click.option("--data-dir", envvar="NEXUS_SATELLITE_DATA_DIR", default=None)
@click.option("--device-id", "override", default=None, help="Use this id instead.")
def show_device_id(data_dir: Optional[str], override: Optional[str]) -> None:
    """Print the id this device sends with every request."""
    click.echo(device_id(_data_dir(data_dir), override))
