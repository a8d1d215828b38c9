"""Loading the embedded LLM at start, before the port opens: which models the modes name,
joined from their packages, mapped, and their system prompts computed once (warm cache)."""

import logging
from datetime import datetime
from pathlib import Path
from typing import Optional

from ..config import Config
from .embedded_models import CUSTOM, ModelUnavailable, model_path
from .modes import ModeBook
from .prompt import build_messages
from .providers.embedded import EmbeddedModel, EmbeddedProvider, with_offline_rule

_LOGGER = logging.getLogger(__name__)


class EmbeddedUnavailable(Exception):
    """The runtime or a model is missing or broken: the server runs without the embedded LLM."""


def wanted_models(book: ModeBook) -> dict[str, list[str]]:
    """Model name → the modes that use it (modes listing `embedded` with a model for it), default mode last."""
    wanted: dict[str, list[str]] = {}
    order = sorted(book.modes.values(), key=lambda m: m.name == book.default)
    for mode in order:
        name = mode.models.get("embedded")
        if "embedded" in mode.providers and name:
            wanted.setdefault(name, []).append(mode.name)
    return wanted


def load_embedded(config: Config, book: ModeBook) -> Optional[EmbeddedProvider]:
    """The provider with every model the modes need loaded and warmed; None when it is switched off."""
    settings = config.intent.embedded
    if not settings.enabled:
        _LOGGER.info("embedded llm off (intent.embedded.enabled: false)")
        return None
    wanted = wanted_models(book)
    if settings.model_file:
        modes = [m for names in wanted.values() for m in names] or list(book.modes)
        wanted = {CUSTOM: modes}
    if not wanted:
        return None
    try:
        import xllamacpp  # noqa: F401  (fail here, with the reason, not at the first question)
    except ImportError as err:
        hint = " (apt-get install libgomp1)" if "libgomp" in str(err) else " (pip install nexus-wyoming[intent])"
        raise EmbeddedUnavailable(f"the llama.cpp runtime xllamacpp cannot be imported: {err}{hint}") from err
    models_dir = config.data_path / "models" if not settings.model_dir else Path(settings.model_dir).expanduser()
    models: dict[str, EmbeddedModel] = {}
    try:
        for name, modes in wanted.items():
            models[name] = _load(name, modes, config, book, models_dir)
    except EmbeddedUnavailable:
        for model in models.values():
            model.close()
        raise
    return EmbeddedProvider(models, CUSTOM if settings.model_file else None, settings.turn_budget_s)


def _load(name: str, modes: list[str], config: Config, book: ModeBook, models_dir: Path) -> EmbeddedModel:
    """One model, loaded, with the prompt of its last mode (the default's, if it uses it) computed."""
    settings = config.intent.embedded
    try:
        path = Path(settings.model_file).expanduser() if name == CUSTOM else model_path(name, models_dir)
    except ModelUnavailable as err:
        raise EmbeddedUnavailable(str(err)) from err
    if not path.is_file():
        raise EmbeddedUnavailable(f"intent.embedded.model_file {path} is not a file")
    model = EmbeddedModel(name, path, settings)
    try:
        model.load()
    except Exception as err:  # llama.cpp refuses the file: say which and go on without it
        raise EmbeddedUnavailable(f"embedded model {name} ({path}) did not load: {err}") from err
    # One warm-up, with the last mode (the default one when it uses this model): the fixed system
    # prompt and rule are computed now; another mode's first turn adds only its instructions.
    mode = modes[-1]
    messages = with_offline_rule(build_messages(book.modes[mode], "Hello.", datetime.now().astimezone()))
    _LOGGER.info("embedded model %s: prompt of mode %s cached in %.1f s", name, mode, model.warm(messages))
    return model

