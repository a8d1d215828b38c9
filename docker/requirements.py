"""Image build step: the requirements of some of setup.cfg's extras, one a line, so the image
installs its dependencies in a layer that a source change does not invalidate.

Usage: python3 requirements.py EXTRA[,EXTRA...] [SETUP_CFG]   (e.g. servers, or stt)
"""

import sys
from configparser import ConfigParser
from pathlib import Path

SELF = "nexus-wyoming["


def requirements(extras: list[str], setup_cfg: Path) -> list[str]:
    """install_requires plus each extra's lines, extras that name other extras expanded."""
    config = ConfigParser()
    config.read(setup_cfg, encoding="utf-8")
    declared = {name: lines(value) for name, value in config["options.extras_require"].items()}
    found, todo = lines(config["options"]["install_requires"]), list(extras)
    seen: set[str] = set()
    while todo:
        extra = todo.pop(0)
        if extra in seen:
            continue
        seen.add(extra)
        if extra not in declared:
            raise SystemExit(f"requirements: setup.cfg has no extra {extra!r}; it has {sorted(declared)}")
        for line in declared[extra]:
            if line.startswith(SELF):
                todo += line[len(SELF):].rstrip("]").split(",")
            elif line not in found:
                found.append(line)
    return found


def lines(value: str) -> list[str]:
    """A setup.cfg list: one item a line, comments dropped."""
    return [item for item in (raw.split("#", 1)[0].strip() for raw in value.splitlines()) if item]


if __name__ == "__main__":
    setup = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("setup.cfg")
    print("\n".join(requirements(sys.argv[1].split(","), setup)))
