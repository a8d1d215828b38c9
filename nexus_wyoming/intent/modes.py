"""Response modes (faster, planning, detailed) from `config/modes.yaml`, and which one a turn uses.

Order: the request's `context.mode`, the session's (set by voice), the device's
(`intent.device_modes`), `intent.default_mode`, then the file's `default`.
"""

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

from ..config import ConfigError, IntentSettings, parse_settings, setting
from ..settings_loader import read_yaml_text
from ..shipped import shipped_config

DEFAULT_MODES_FILE = shipped_config("modes.yaml")
PROVIDERS = ["groq", "gemini", "local", "embedded"]


@dataclass(frozen=True)
class Mode:
    """How one mode answers."""

    description: str = ""
    providers: list[str] = setting(PROVIDERS, choices=PROVIDERS)
    models: dict[str, str] = field(default_factory=dict)
    max_tokens: int = setting(250, minimum=16, maximum=8192)
    temperature: float = setting(0.6, minimum=0.0, maximum=2.0)
    search: str = setting("off", choices=["off", "parallel", "sequential"])
    search_wait_ms: int = setting(800, minimum=0, maximum=60_000)
    instructions: str = ""
    name: str = ""


@dataclass(frozen=True)
class ModeBook:
    """Every mode and the rules for picking one."""

    modes: dict[str, Mode]
    default: str
    device_modes: Mapping[str, str] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        """Mode names in file order."""
        return tuple(self.modes)

    def pick(self, request: Optional[str], session: Optional[str], device: Optional[str]) -> Mode:
        """The mode of a turn; names that are not modes (e.g. from an older file) are passed over."""
        device_mode = self.device_modes.get(device) if device is not None else None
        for name in (request, session, device_mode):
            if name is not None and name in self.modes:
                return self.modes[name]
        return self.modes[self.default]


def load_modes(settings: IntentSettings) -> ModeBook:
    """The modes file named by the settings (or the shipped one), checked; ConfigError names what is wrong."""
    path = Path(settings.modes_file).expanduser() if settings.modes_file else DEFAULT_MODES_FILE
    raw = read_yaml_text(path, "modes file")
    if not isinstance(raw, dict) or not isinstance(raw.get("modes"), dict) or not raw["modes"]:
        raise ConfigError(f"{path}: expected a mapping with a non-empty 'modes' mapping")
    unknown = sorted(set(raw) - {"default", "modes"})
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}")
    modes = {}
    for name, spec in raw["modes"].items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"{path}: mode name {name!r} must be a single word")
        if isinstance(spec, dict) and spec.get("search") is False:
            spec = {**spec, "search": "off"}  # unquoted `off` is YAML for false
        if isinstance(spec, dict) and "name" in spec:
            raise ConfigError(f"{path}: modes.{name}: unknown key 'name'")
        mode = parse_settings(Mode, spec if spec is not None else {}, f"modes.{name}", str(path))
        strange = sorted(set(mode.models) - set(PROVIDERS))
        if strange:
            raise ConfigError(f"{path}: modes.{name}.models: unknown provider {strange[0]!r} (one of {PROVIDERS})")
        modes[name] = dataclasses.replace(mode, name=name)
    default = settings.default_mode or raw.get("default") or next(iter(modes))
    if default not in modes:
        raise ConfigError(f"default mode {default!r} is not one of {sorted(modes)}")
    device_modes = dict(settings.device_modes or {})
    for device, name in device_modes.items():
        if name not in modes:
            raise ConfigError(f"intent.device_modes.{device}: {name!r} is not one of {sorted(modes)}")
    return ModeBook(modes, default, device_modes)
