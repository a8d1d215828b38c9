"""What a Raspberry Pi gets: satellite/install.sh's pip spec, its size on disk, the README's claims about both."""

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path
from typing import Optional, Union

from packaging.utils import canonicalize_name

from tests.support.processes import REPO

LIMIT_MB = 150  # issue 13: a satellite-only venv, pip included
MB = 1024 * 1024
README_SECTION = "## Raspberry Pi satellite install"


def spec_args(source: Optional[Union[str, Path]] = None) -> list[str]:
    """The `pip install` arguments install.sh uses (`-c constraints.txt`, the package with [wake])."""
    done = subprocess.run([str(REPO / "satellite" / "install.sh"), "--print-spec", *([str(source)] if source else [])],
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.splitlines()


def du_bytes(path: Path) -> int:
    """Disk usage of a tree as `du -s` counts it (blocks, not apparent sizes)."""
    done = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, timeout=120, check=True)
    return int(done.stdout.split()[0]) * 1024


def empty_venv_bytes(where: Path) -> int:
    """What `python -m venv` alone takes (pip, and setuptools on 3.11): the allowance on top of the packages."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=120)
    return du_bytes(where)


def sizes_by_package(site_packages: Path) -> dict[str, int]:
    """Installed bytes per distribution, from each one's RECORD (byte-compiled files included)."""
    sizes = {}
    for dist in importlib.metadata.distributions(path=[str(site_packages)]):
        files = [Path(dist.locate_file(f)) for f in dist.files or []]
        sizes[dist.metadata["Name"]] = sum(f.stat().st_size for f in files if f.is_file())
    return sizes


def size_table(sizes: dict[str, int], top: int = 12) -> str:
    """The biggest packages first, in MB."""
    rows = sorted(sizes.items(), key=lambda item: -item[1])[:top]
    return "\n".join(f"{size / MB:8.1f} MB  {name}" for name, size in rows)


def readme_section() -> str:
    """The README's install section, its line breaks and indents as single spaces."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return " ".join(readme.split(README_SECTION, 1)[1].split("\n## ", 1)[0].split())


def readme_venv_mb() -> dict[str, float]:
    """The sizes the README gives: the whole venv on x86_64, its packages on aarch64, an empty venv."""
    found = re.search(r"venv takes (\d+) MB on x86_64 .*? the same packages install to (\d+) MB on aarch64,"
                      r" plus (\d+) MB for the venv itself", readme_section())
    assert found, "README: no satellite venv size"
    return dict(zip(("x86_64", "aarch64", "empty"), map(float, found.groups())))


def readme_armv7_missing() -> set[str]:
    """The packages the README says have no armv7 wheel on PyPI."""
    found = re.search(r"32-bit Raspberry Pi OS \(armv7\) is not supported: PyPI has no armv7 wheels? of ([^;]+);",
                      readme_section())
    assert found, "README: no statement about 32-bit Raspberry Pi OS"
    names = re.findall(r"`([A-Za-z0-9_.-]+)`", found.group(1))
    assert names, found.group(1)
    return {canonicalize_name(name) for name in names}
