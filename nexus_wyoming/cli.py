"""`nexus-wyoming`: the servers' command line, in the style of the wyoming-* servers."""

import asyncio
import contextlib
import functools
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, NoReturn, Optional

import click

from .config import Config, ConfigError, load_config
from .logs import setup_logging
from .preflight import SERVER_KINDS, preflight

_LOGGER = logging.getLogger(__name__)


def server_options(default_uri: str) -> Callable:
    """Options every server command shares."""

    def decorate(command: Callable) -> Callable:
        options = [
            click.option("--uri", default=None, help=f"Where to listen (default {default_uri}; tcp://127.0.0.1:0 = free port)."),
            click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML settings file."),
            click.option("--data-dir", default=None, help="Directory for all state (or NEXUS_DATA_DIR)."),
            click.option("--debug", is_flag=True, default=None, help="Log debug messages."),
            click.option("--log-format", type=click.Choice(["text", "json"]), default=None),
            click.option("--no-zeroconf", is_flag=True, default=False, help="Do not advertise on mDNS."),
            click.option("--zeroconf-name", default=None, help="Name advertised on mDNS (default nexus-KIND-HOSTNAME)."),
            click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, help="Serve Prometheus /metrics here."),
            click.option("--metrics-host", default=None, help="Bind /metrics here (default: the --uri host)."),
            click.option("--status-peers", default=None, metavar=":PORT,…",
                         help="The other servers' metrics ports (or URLs), merged into the status page at /."),
        ]
        return functools.reduce(lambda cmd, opt: opt(cmd), reversed(options), command)

    return decorate


def load(config_file: Optional[str], create_data_dir: bool = True, **flags: Any) -> Config:
    """Settings from files, environment and flags; exit 2 with the reason when invalid."""
    overrides = {key: value for key, value in flags.items() if value is not None}
    try:
        config = load_config(config_file, overrides)
        if create_data_dir:
            config.data_path.mkdir(parents=True, exist_ok=True)
            check_writable(config.data_path)
    except ConfigError as err:
        refuse(err)
    except OSError as err:
        click.echo(f"nexus-wyoming: cannot create data dir: {err}", err=True)
        sys.exit(2)
    setup_logging(config.log_format, config.debug)
    return config


def refuse(err: ConfigError) -> NoReturn:
    """Exit 2 with the one line that names the setting and where it came from."""
    click.echo(f"nexus-wyoming: config error: {err}", err=True)
    sys.exit(2)


def check_writable(directory: Path) -> None:
    """ConfigError unless files can be made in `directory` (history, models, device ids live there)."""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-check-"):
            pass
    except OSError as err:
        raise ConfigError(f"data dir {directory} is not writable ({err.strerror or err})") from err


@click.group()
@click.version_option(package_name="nexus-wyoming")
def main() -> None:
    """Nexus Wyoming: low-latency Wyoming servers for Home Assistant."""


#: `serve --metrics-port BASE` gives each server BASE + its offset, whichever `--only` starts.
METRICS_PORT_OFFSETS = {kind: offset for offset, kind in enumerate(SERVER_KINDS)}


@main.command()
@click.option("--only", default=None, help="Comma-separated subset of servers to run, e.g. stt,tts.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML settings file.")
@click.option("--data-dir", default=None, help="Directory for all state (or NEXUS_DATA_DIR).")
@click.option("--debug", is_flag=True, default=None, help="Log debug messages.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None)
@click.option("--no-zeroconf", is_flag=True, default=False, help="Do not advertise on mDNS.")
@click.option("--zeroconf-name", default=None, help="mDNS name prefix: NAME-stt, NAME-intent, NAME-tts.")
@click.option("--metrics-port", type=click.IntRange(1, 65000), default=None,
              help="Metrics ports by server: stt here, intent +1, tts +2 (the same with --only).")
@click.option("--metrics-host", default=None, help="Bind /metrics here (default: each server's --uri host).")
def serve(only: Optional[str], config_file: Optional[str], no_zeroconf: bool, zeroconf_name: Optional[str],
          metrics_port: Optional[int], **flags: Any) -> None:
    """Run every server (each its own process, restarted if it crashes) until stopped."""
    from .supervisor import Supervisor

    available = [kind for kind in SERVER_KINDS if kind in main.commands]
    kinds = [k.strip() for k in only.split(",")] if only else available
    unknown = sorted(set(kinds) - set(available))
    if unknown or not kinds:
        click.echo(f"nexus-wyoming: unknown server(s) {unknown}; available: {', '.join(available)}", err=True)
        sys.exit(2)
    config = load(config_file, zeroconf=False if no_zeroconf else None, zeroconf_name=zeroconf_name,
                  **flags)  # fail fast on bad settings
    try:
        preflight(config, tuple(kinds))
    except ConfigError as err:
        refuse(err)
    args = [f"--{key.replace('_', '-')}={value}" for key, value in flags.items() if value not in (None, True)]
    args += ["--debug"] if flags.get("debug") else []
    args += ["--config", config_file] if config_file else []
    args += ["--no-zeroconf"] if no_zeroconf else []
    supervisor = Supervisor(kinds, args)
    if config.zeroconf_name:  # one name per server, or mDNS renames all but the first
        for kind, child in zip(kinds, supervisor.children):
            child.argv += ["--zeroconf-name", f"{config.zeroconf_name}-{kind}"]
    if metrics_port is not None:
        ports = {child.kind: metrics_port + METRICS_PORT_OFFSETS[child.kind] for child in supervisor.children}
        for child in supervisor.children:
            peers = [f":{port}" for kind, port in ports.items() if kind != child.kind]
            child.argv += ["--metrics-port", str(ports[child.kind])]
            child.argv += ["--status-peers", ",".join(peers)] if peers else []
    _LOGGER.info("starting %s (data in %s)", ", ".join(kinds), config.data_path)
    sys.exit(asyncio.run(supervisor.run()))


@contextlib.contextmanager
def engines_of(kind: str) -> Iterator[None]:
    """Imports of a server's engines: a missing package is one line naming the extra to install."""
    try:
        yield
    except ModuleNotFoundError as err:
        click.echo(f"nexus-wyoming: the {kind} server needs its engines ({err.name} is not installed): "
                   f"pip install 'nexus-wyoming[{kind}]', or ./run.sh, which installs every server", err=True)
        sys.exit(2)


def run_server_command(kind: str, uri: Optional[str], config_file: Optional[str], no_zeroconf: bool,
                       serve: Callable[[Config, str], Any], fatal: tuple[type, ...], **flags: Any) -> None:
    """Load settings, serve until stopped; exit 2 on bad settings/models at start, 1 if the port is
    unusable or the server broke later (the supervisor then restarts it alone)."""
    from .protocol.runner import ServingFailed

    config = load(config_file, **{f"{kind}.uri": uri, "zeroconf": False if no_zeroconf else None, **flags})
    listen = getattr(config, kind).uri
    try:
        with engines_of(kind):  # some engines import their packages only when they load
            asyncio.run(serve(config, listen))
    except ServingFailed as err:
        _LOGGER.exception("%s", err)
        sys.exit(1)
    except (ValueError, *fatal) as err:
        _LOGGER.error("%s", err)
        sys.exit(2)
    except OSError as err:
        _LOGGER.error("cannot listen on %s: %s", listen, err)
        sys.exit(1)


@main.command()
@server_options("tcp://0.0.0.0:10200")
def tts(uri: Optional[str], config_file: Optional[str], no_zeroconf: bool, **flags: Any) -> None:
    """Text to speech: Piper offline, Cartesia / Deepgram Aura with keys."""
    with engines_of("tts"):
        from .tts.engine import TtsError
        from .tts.server import serve_tts

    run_server_command("tts", uri, config_file, no_zeroconf, serve_tts, (TtsError,), **flags)


def _sessions_options(command: Callable) -> Callable:
    """Where the history is: the same settings the intent server reads."""
    options = [
        click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML settings file."),
        click.option("--data-dir", default=None, help="Directory for all state (or NEXUS_DATA_DIR)."),
        click.option("--history-url", default=None, help="sqlite:///PATH or postgresql://… (default: the config's)."),
    ]
    return functools.reduce(lambda cmd, opt: opt(cmd), reversed(options), command)


def _with_sessions(config_file: Optional[str], data_dir: Optional[str], history_url: Optional[str],
                   work: Callable) -> Any:
    """Run `work(manager)` against the configured history store; exit 1 with the reason on failure."""
    from .sessions import SessionManager

    config = load(config_file, **{"data_dir": data_dir, "sessions.history_url": history_url})

    async def run() -> Any:
        manager = SessionManager.from_config(config)
        try:
            await manager.start(strict=True)
            return await work(manager)
        finally:
            await manager.close()

    try:
        return asyncio.run(run())
    except Exception as err:  # a store that cannot be reached: say so, no traceback
        click.echo(f"nexus-wyoming: {type(err).__name__}: {err}", err=True)
        sys.exit(1)


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from .sessions.admin import parse_duration

    try:
        return parse_duration(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from err


@main.group()
def sessions() -> None:
    """Inspect and prune the conversation history of the intent server."""


@sessions.command("list")
@_sessions_options
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=1000, help="Most devices to show.")
def sessions_list(config_file: Optional[str], data_dir: Optional[str], history_url: Optional[str], limit: int) -> None:
    """Devices with stored conversations, most recently active first."""
    from .sessions.admin import devices_table

    devices = _with_sessions(config_file, data_dir, history_url, lambda m: m.devices(limit))
    click.echo(devices_table(devices) if devices else "no stored sessions")


@sessions.command("show")
@_sessions_options
@click.argument("device")
@click.option("--sessions", "count", type=click.IntRange(1, 1000), default=3, help="Most recent sessions to show.")
def sessions_show(config_file: Optional[str], data_dir: Optional[str], history_url: Optional[str],
                  device: str, count: int) -> None:
    """One device's latest sessions with their messages (exit 1 if it has none)."""
    from .sessions.admin import sessions_text, shown

    found = _with_sessions(config_file, data_dir, history_url, lambda m: m.device_sessions(device, count))
    if not found:
        click.echo(f"no sessions for device {shown(device)}", err=True)
        sys.exit(1)
    click.echo(sessions_text(device, found))


@sessions.command("purge")
@_sessions_options
@click.option("--older-than", required=True, callback=_duration, metavar="DURATION",
              help="Delete sessions idle for longer than this: 30d, 12h, 90m.")
def sessions_purge(config_file: Optional[str], data_dir: Optional[str], history_url: Optional[str],
                   older_than: float) -> None:
    """Delete old sessions and their messages (device contexts are kept)."""
    deleted, messages = _with_sessions(config_file, data_dir, history_url, lambda m: m.purge(older_than))
    click.echo(f"purged {deleted} session(s) and {messages} message(s)")


@main.command()
@server_options("tcp://0.0.0.0:10300")
def stt(uri: Optional[str], config_file: Optional[str], no_zeroconf: bool, **flags: Any) -> None:
    """Speech to text: Whisper offline with live partials, Deepgram with a key."""
    with engines_of("stt"):
        from .stt.engine import SttError
        from .stt.server import serve_stt

    run_server_command("stt", uri, config_file, no_zeroconf, serve_stt, (SttError,), **flags)


@main.command()
@server_options("tcp://0.0.0.0:10600")
def intent(uri: Optional[str], config_file: Optional[str], no_zeroconf: bool, **flags: Any) -> None:
    """Conversation agent: offline skills, Groq / Gemini / local LLM with fallback, web search."""
    with engines_of("intent"):
        from .intent.server import serve_intent
        from .sessions import SchemaError

    run_server_command("intent", uri, config_file, no_zeroconf, serve_intent, (SchemaError,), **flags)


@main.command("config")
@click.option("--print-defaults", is_flag=True, help="Every setting with its default, type and limits, as YAML.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Validate this file (exit 2 if invalid).")
def config_command(print_defaults: bool, config_file: Optional[str]) -> None:
    """Show the settings reference, or validate a settings file."""
    from .config_reference import print_defaults as reference

    if print_defaults:
        click.echo(reference(), nl=False)
        return
    config = load(config_file, create_data_dir=False)
    try:
        preflight(config)
    except ConfigError as err:
        refuse(err)
    click.echo(f"settings are valid; data dir {config.data_path}")


from .client.cli import client  # noqa: E402  (a command group of its own module)

main.add_command(client)


if __name__ == "__main__":
    main()
