"""A 64-bit Raspberry Pi gets wheels for everything: satellite/install.sh's spec resolves on PyPI
to aarch64 (or pure-Python) wheels for CPython 3.11 on Raspberry Pi OS bookworm (glibc 2.36),
installs within the 150 MB the x86_64 venv is held to, and the README's list of what
32-bit Pi OS lacks is what PyPI lacks.

Downloads are kept in ~/.cache/nexus-wyoming/satellite-wheels: a rerun resolves from there
offline and asks PyPI only when the spec needs something new.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename

from tests.deploy.satellite_spec import (LIMIT_MB, MB, du_bytes, empty_venv_bytes, readme_armv7_missing,
                                         readme_venv_mb, size_table, sizes_by_package, spec_args)
from tests.support.processes import REPO

CACHE = Path.home() / ".cache" / "nexus-wyoming" / "satellite-wheels"
GLIBC = 36  # Raspberry Pi OS bookworm; trixie has 2.41


def target(arch: str) -> list[str]:
    """pip's options for CPython 3.11 on a glibc-2.36 Linux of this architecture (manylinux tags are not implied)."""
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(17, GLIBC + 1)] + [f"manylinux2014_{arch}"]
    if arch == "armv7l":
        tags += ["linux_armv7l", "musllinux_1_1_armv7l", "musllinux_1_2_armv7l"]
    return [*(f"--platform={tag}" for tag in tags), "--only-binary=:all:", "--python-version=3.11",
            "--implementation=cp"]


def pip(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> list[Path]:
    """Every file pip downloads for install.sh's spec (our own wheel in place of the checkout)."""
    base = tmp_path_factory.mktemp("aarch64")
    built = pip("wheel", "--no-deps", "--quiet", "-w", str(base / "built"), str(REPO))
    assert built.returncode == 0, built.stderr
    (ours,) = (base / "built").glob("nexus_wyoming-*.whl")
    download = ["download", "-d", str(base / "wheels"), *target("aarch64"), *spec_args(ours)]
    CACHE.mkdir(parents=True, exist_ok=True)
    done = pip(*download, "--no-index", "--find-links", str(CACHE))
    if done.returncode != 0:  # something new (or a fresh machine): from the index, then kept
        done = pip(*download, "--find-links", str(CACHE))
        assert done.returncode == 0, done.stdout + done.stderr
        for wheel in (base / "wheels").iterdir():
            if wheel.name != ours.name:
                shutil.copy2(wheel, CACHE / wheel.name)
    return sorted((base / "wheels").iterdir())


def test_every_dependency_is_an_aarch64_or_pure_python_wheel(wheels):
    names = {parse_wheel_filename(w.name)[0] for w in wheels if w.suffix == ".whl"}
    assert {"nexus-wyoming", "numpy", "pymicro-wakeword", "webrtcvad-wheels"} <= names, names
    odd = [w.name for w in wheels
           if w.suffix != ".whl" or not all(t.platform == "any" or t.platform.endswith("_aarch64")
                                            for t in parse_wheel_filename(w.name)[3])]
    assert odd == [], f"not an aarch64 or pure-Python wheel: {odd}"


def test_installed_on_aarch64_it_fits_in_150_mb(wheels, tmp_path):
    """The wheels installed as on the Pi (byte-compiled), plus what an empty venv takes here."""
    site = tmp_path / "site"
    done = pip("install", "--quiet", "--no-index", "--no-deps", "--target", str(site), *target("aarch64"),
               *map(str, wheels))
    assert done.returncode == 0, done.stderr
    packages, allowance = du_bytes(site), empty_venv_bytes(tmp_path / "empty")
    table = size_table(sizes_by_package(site))
    print(f"\naarch64: packages {packages / MB:.0f} MB + an empty venv {allowance / MB:.0f} MB\n{table}")
    assert packages + allowance <= LIMIT_MB * MB, f"{packages / MB:.0f} MB + {allowance / MB:.0f} MB:\n{table}"
    readme = readme_venv_mb()
    assert abs(readme["aarch64"] - packages / MB) <= 10, f"README's figure is stale: {packages / MB:.0f} MB"
    assert abs(readme["empty"] - allowance / MB) <= 5, f"README's figure is stale: {allowance / MB:.0f} MB"


def has_armv7_wheel(name: str, where: Path) -> bool:
    """Whether PyPI has a wheel of any version of `name` for 32-bit Pi OS (metadata only, nothing installed)."""
    done = pip("install", "--dry-run", "--quiet", "--report", "-", "--ignore-installed", "--no-deps",
               "--target", str(where), *target("armv7l"), name, timeout=120)
    if done.returncode == 0:
        return bool(json.loads(done.stdout)["install"])
    assert "from versions: none" in done.stderr or "No matching distribution" in done.stderr, done.stderr
    return False


def test_the_readme_names_what_32_bit_pi_os_lacks(wheels, tmp_path):
    dependencies = {parse_wheel_filename(w.name)[0] for w in wheels} - {"nexus-wyoming"}
    lacking = {name for name in dependencies if not has_armv7_wheel(name, tmp_path)}
    assert lacking == readme_armv7_missing(), f"no armv7 wheel on PyPI: {sorted(lacking)}"
