"""A wheel (not a checkout) carries the shipped config files where `shipped.py` looks."""

import subprocess
import sys
import zipfile

from nexus_wyoming import shipped
from tests.support.processes import REPO


def test_wheel_ships_the_config_files(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
                   check=True, timeout=300, capture_output=True)
    (wheel,) = tmp_path.glob("nexus_wyoming-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("default.yaml", "modes.yaml", "satellite.yaml"):
        assert any(n.endswith(f".data/data/share/nexus-wyoming/config/{name}") for n in names), name


def test_installed_location_is_used_without_a_checkout(tmp_path, monkeypatch):
    monkeypatch.setattr(shipped, "_CHECKOUT", tmp_path / "no-checkout")
    monkeypatch.setattr(shipped, "_INSTALLED", tmp_path / "share")
    assert shipped.shipped_config("modes.yaml") == tmp_path / "share" / "modes.yaml"
