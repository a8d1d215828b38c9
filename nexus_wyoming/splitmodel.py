"""Model files that ship split across PyPI packages (the index's file size limit), joined
once into a directory under the data dir.

The parts are joined into a temporary directory, checked against a pinned size and
sha256, and renamed into place, so two processes starting at once never see half a
model and a damaged package is reported instead of loaded. Later starts only compare
the joined file's size. Used for the Whisper model (STT) and the embedded LLM (intent).
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

_LOGGER = logging.getLogger(__name__)
_BLOCK = 1 << 20


class ModelFilesError(Exception):
    """A part is missing, has the wrong size, or the joined file is not the pinned one."""


@dataclass(frozen=True)
class Part:
    """One piece of a split model file."""

    path: Path
    size: int


@dataclass(frozen=True)
class SplitModel:
    """A model directory whose main file is split across files (packages)."""

    name: str
    parts: tuple[Part, ...]
    files: tuple[Path, ...]
    """Small files copied beside the joined one (tokenizer, config)."""
    size: int
    sha256: str
    file: str = "model.bin"
    """Name of the joined file inside the model directory."""
    packages: str = "the model packages"
    """What to reinstall when a part is damaged (named in errors)."""


def package_dir(module: str) -> Optional[Path]:
    """Where an installed package's files are, or None when it is not installed."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def is_complete(target: Path, model: SplitModel) -> bool:
    """A cheap check at every start; the full sha256 was verified before the rename."""
    try:
        return (target / model.file).stat().st_size == model.size and all(
            (target / f.name).is_file() for f in model.files
        )
    except OSError:
        return False


def _check_parts(model: SplitModel) -> None:
    for part in model.parts:
        try:
            size = part.path.stat().st_size
        except OSError as err:
            raise ModelFilesError(f"model part {part.path} is missing ({err.strerror}); "
                                  f"reinstall {model.packages}") from err
        if size != part.size:
            raise ModelFilesError(f"model part {part.path} has {size} bytes, expected {part.size}; "
                                  f"reinstall {model.packages}")
    for file in model.files:
        if not file.is_file():
            raise ModelFilesError(f"model file {file} is missing; reinstall {model.packages}")


def _join(model: SplitModel, into: Path) -> None:
    digest, size = hashlib.sha256(), 0
    with open(into / model.file, "wb") as out:
        for part in model.parts:
            with open(part.path, "rb") as source:
                while block := source.read(_BLOCK):
                    out.write(block)
                    digest.update(block)
                    size += len(block)
        out.flush()
        os.fsync(out.fileno())
    if size != model.size or digest.hexdigest() != model.sha256:
        raise ModelFilesError(
            f"{model.name}: joined model has {size} bytes and sha256 {digest.hexdigest()}, expected "
            f"{model.size} bytes and {model.sha256}; the model packages are damaged, reinstall them "
            f"(pip install --force-reinstall {model.packages})"
        )
    for file in model.files:
        shutil.copyfile(file, into / file.name)


def assemble(model: SplitModel, target: Path) -> Path:
    """Join the parts into `target` once, atomically; later calls only check it."""
    if is_complete(target, model):
        return target
    _check_parts(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not is_complete(target, model):  # damaged earlier copy: move it aside
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
            if not is_complete(target, model):  # not another process winning the race
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
