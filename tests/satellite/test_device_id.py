"""The satellite's stable device id: override, derived from machine-id, or persisted UUID."""

import hashlib
import re
import uuid
from pathlib import Path

import pytest

from satellite.device_id import device_id

MACHINE_ID = "0123456789abcdef0123456789abcdef"
HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def machine_id(tmp_path: Path) -> Path:
    path = tmp_path / "machine-id"
    path.write_text(MACHINE_ID + "\n", encoding="ascii")
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data" / "nested"


# ---------------------------------------------------------------- override


@pytest.mark.parametrize("override", ["kitchen", "living-room-pi", "x"])
def test_override_wins(data_dir, machine_id, override):
    assert device_id(data_dir, override, machine_id) == override
    assert not data_dir.exists()


def test_empty_override_is_ignored(data_dir, machine_id):
    assert device_id(data_dir, "", machine_id) == device_id(data_dir, None, machine_id)


# ---------------------------------------------------------------- derived from machine-id


def test_derived_id_is_stable_hex_and_not_the_machine_id(data_dir, machine_id):
    first = device_id(data_dir, None, machine_id)
    assert HEX32.fullmatch(first)
    assert first == device_id(data_dir, None, machine_id)
    assert first != MACHINE_ID
    assert MACHINE_ID not in first and first not in MACHINE_ID
    # Not a plain hash of the machine id either (anyone could compute that from it).
    assert first != hashlib.sha256(MACHINE_ID.encode()).hexdigest()[:32]
    assert first != hashlib.md5(MACHINE_ID.encode()).hexdigest()
    # Nothing is written when the id can be derived.
    assert not data_dir.exists()


def test_derived_id_ignores_surrounding_whitespace(tmp_path, data_dir, machine_id):
    other = tmp_path / "other-machine-id"
    other.write_text(f"  {MACHINE_ID}  \n\n", encoding="ascii")
    assert device_id(data_dir, None, other) == device_id(data_dir, None, machine_id)


def test_different_machines_get_different_ids(tmp_path, data_dir, machine_id):
    other = tmp_path / "other-machine-id"
    other.write_text("fedcba9876543210fedcba9876543210\n", encoding="ascii")
    assert device_id(data_dir, None, other) != device_id(data_dir, None, machine_id)


def test_derived_id_does_not_depend_on_the_data_dir(tmp_path, machine_id):
    assert device_id(tmp_path / "a", None, machine_id) == device_id(tmp_path / "b", None, machine_id)


# ---------------------------------------------------------------- persisted UUID


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "no-such-machine-id"


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "machine-id"
    path.write_text("", encoding="ascii")
    return path


def _blank(tmp_path: Path) -> Path:
    path = tmp_path / "machine-id"
    path.write_text(" \n\t\n", encoding="ascii")
    return path


def _not_ascii(tmp_path: Path) -> Path:
    path = tmp_path / "machine-id"
    path.write_bytes(b"\xff\xfe\x00garbage\x80")
    return path


def _directory(tmp_path: Path) -> Path:
    path = tmp_path / "machine-id"
    path.mkdir()
    return path


def _unreadable(tmp_path: Path) -> Path:
    path = tmp_path / "machine-id"
    path.write_text(MACHINE_ID, encoding="ascii")
    return path  # reading it is made to fail with PermissionError in the test (root ignores chmod)


@pytest.mark.parametrize("make", [_missing, _empty, _blank, _not_ascii, _directory, _unreadable],
                         ids=["missing", "empty", "blank", "not-ascii", "directory", "unreadable"])
def test_without_machine_id_a_uuid_is_persisted_and_reused(tmp_path, data_dir, make, monkeypatch):
    machine = make(tmp_path)
    if make is _unreadable:
        real_read_text = Path.read_text

        def read_text(self, *args, **kwargs):
            if self == machine:
                raise PermissionError(13, "Permission denied", str(self))
            return real_read_text(self, *args, **kwargs)

        monkeypatch.setattr(Path, "read_text", read_text)
    first = device_id(data_dir, None, machine)
    assert HEX32.fullmatch(first)
    assert uuid.UUID(first).hex == first
    stored = data_dir / "device-id"
    assert stored.read_text(encoding="ascii").strip() == first
    assert device_id(data_dir, None, machine) == first
    assert not (data_dir / "device-id.tmp").exists()


def test_two_data_dirs_without_machine_id_get_different_ids(tmp_path):
    machine = _missing(tmp_path)
    assert device_id(tmp_path / "a", None, machine) != device_id(tmp_path / "b", None, machine)


def test_a_stored_id_is_kept(tmp_path, data_dir):
    data_dir.mkdir(parents=True)
    (data_dir / "device-id").write_text("3f2a0c1e5b7d4e6f8a9b0c1d2e3f4a5b\n", encoding="ascii")
    assert device_id(data_dir, None, _missing(tmp_path)) == "3f2a0c1e5b7d4e6f8a9b0c1d2e3f4a5b"


def test_machine_id_wins_over_a_stored_id(data_dir, machine_id):
    data_dir.mkdir(parents=True)
    (data_dir / "device-id").write_text("3f2a0c1e5b7d4e6f8a9b0c1d2e3f4a5b", encoding="ascii")
    assert device_id(data_dir, None, machine_id) != "3f2a0c1e5b7d4e6f8a9b0c1d2e3f4a5b"


# ---------------------------------------------------------------- corrupt stored file


@pytest.mark.parametrize("content", [
    b"",                                  # truncated to nothing (power loss)
    b" \n\t",                             # whitespace only
    b"\xff\xfe\xfd\x80\x81",              # random bytes, not ASCII
    b"\x00" * 32,                         # zero-filled block after power loss on an SD card
    b"\x00\x00\x00\x00\n",
    b"abc\x01\x02\x1b[2J",                # control characters / terminal escapes
], ids=["empty", "blank", "not-ascii", "nul-filled", "nul-short", "control-chars"])
def test_corrupt_stored_id_is_replaced_by_a_fresh_persisted_one(tmp_path, data_dir, content):
    data_dir.mkdir(parents=True)
    stored = data_dir / "device-id"
    stored.write_bytes(content)
    machine = _missing(tmp_path)
    fresh = device_id(data_dir, None, machine)
    assert HEX32.fullmatch(fresh), repr(fresh)
    assert stored.read_text(encoding="ascii").strip() == fresh
    assert device_id(data_dir, None, machine) == fresh
