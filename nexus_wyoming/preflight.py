"""The checks every server makes before it listens, run without loading a model.

`nexus-wyoming config --config FILE` and `serve` run them, so a settings file that a
server would refuse at start is refused at once, naming the key.
"""

import logging

from .config import Config, ConfigError
from .protocol.server import ListenAddress
from .status import parse_peers

_LOGGER = logging.getLogger(__name__)
#: The servers `serve` runs, in start order.
SERVER_KINDS = ("stt", "intent", "tts")


def preflight(config: Config, kinds: tuple[str, ...] = SERVER_KINDS) -> None:
    """Raise ConfigError for what the servers of `kinds` would refuse at start."""
    for kind in kinds:
        uri = getattr(config, kind).uri
        try:
            ListenAddress.parse(uri)
        except ValueError as err:
            raise ConfigError(f"{kind}.uri: {err}") from err
    try:
        parse_peers(config.status_peers)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    if "intent" in kinds:
        _check_intent(config)
    if "tts" in kinds:
        _check_voice(config)


def _check_intent(config: Config) -> None:
    try:
        from .intent.modes import load_modes
        from .intent.server import home_assistant_url, timezone_of
    except ModuleNotFoundError as err:  # the intent extra is not installed: the server says so itself
        _LOGGER.debug("intent checks skipped: %s", err)
        return
    load_modes(config.intent)  # modes file, default mode, device modes
    timezone_of(config.intent.timezone)
    home_assistant_url(config)  # a URL of Home Assistant, and its token


def _check_voice(config: Config) -> None:
    try:
        from .tts.engine import TtsError
        from .tts.engines.piper import resolve_voice
    except ModuleNotFoundError as err:
        _LOGGER.debug("voice check skipped: %s", err)
        return
    if "piper" in config.tts.engines:
        try:
            resolve_voice(config.tts.piper)
        except TtsError as err:
            raise ConfigError(f"tts.piper.voice: {err}") from err
