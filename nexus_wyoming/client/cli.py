"""`nexus-wyoming client ...`: readable tables by default, `--json` for scripts."""

import asyncio
import json
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

import click

from . import actions
from .connection import DEFAULT_TIMEOUT_S
from .discover import discover as discover_servers
from .pipeline import pipeline as run_pipeline

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
timeout_option = click.option(
    "--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT_S, show_default=True,
    help="Seconds to wait for a connection and for each reply (the transcript: after the audio ends).")


def _run(action: Awaitable[Any]) -> Any:
    """Run an action; whatever stops it is click's one-line `Error: ...` with exit code 1."""
    try:
        return asyncio.run(action)
    except (actions.ClientError, OSError, ValueError) as err:
        raise click.ClickException(str(err) or type(err).__name__) from None


def _partials(as_json: bool) -> Optional[Callable[[str], None]]:
    """In a table, each partial transcript is printed the moment it arrives."""
    return None if as_json else lambda text: click.echo(f"partial: {text}")


def _print(result: actions.Result, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    rows = [(name, f"{ms:.1f} ms") for name, ms in result.milestones]
    rows += [(key, _short(value)) for key, value in result.values.items() if key not in ("partials", "chunks", "info")]
    for key in ("partials", "chunks"):
        for item in result.values.get(key, []):
            rows.append((f"  {key[:-1]} @ {item['ms']:.0f} ms", item["text"]))
    width = max(len(name) for name, _ in rows) if rows else 0
    click.echo(f"{result.action}")
    for name, value in rows:
        click.echo(f"  {name.ljust(width)}  {value}")


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 200 else text[:197] + "..."


@click.group()
def client() -> None:
    """Talk Wyoming to any server, ours or not, and time it."""


@client.command()
@click.argument("uri")
@timeout_option
@json_option
def describe(uri: str, timeout: float, as_json: bool) -> None:
    """Show what a server offers (`describe` → `info`)."""
    result = _run(actions.describe(uri, timeout))
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    info = result.values["info"]
    click.echo(f"info after {result.milestones[0][1]:.1f} ms")
    for kind, programs in info.items():
        for program in programs if isinstance(programs, list) else [programs]:
            if isinstance(program, dict) and program.get("name"):
                items = program.get("voices") or program.get("models") or []
                names = ", ".join(str(i.get("name")) for i in items if isinstance(i, dict))
                click.echo(f"  {kind:9} {program['name']}  {names}")


@client.command()
@click.argument("uri")
@click.argument("wav", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--fast", is_flag=True, help="Send audio as fast as possible instead of in real time.")
@click.option("--language", default=None)
@timeout_option
@json_option
def transcribe(uri: str, wav: Path, fast: bool, language: Optional[str], timeout: float, as_json: bool) -> None:
    """Stream a WAV file to an STT server; prints partials and the transcript with timings."""
    action = actions.transcribe(uri, wav, realtime=not fast, language=language, timeout=timeout, on_partial=_partials(as_json))
    _print(_run(action), as_json)


@client.command()
@click.argument("uri")
@click.argument("text")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="WAV file to write.")
@click.option("--stream", is_flag=True, help="Use synthesize streaming, word by word.")
@click.option("--voice", default=None)
@timeout_option
@json_option
def synthesize(uri: str, text: str, output: Optional[Path], stream: bool, voice: Optional[str], timeout: float, as_json: bool) -> None:
    """Speak TEXT on a TTS server."""
    _print(_run(actions.synthesize(uri, text, output, stream=stream, voice=voice, timeout=timeout)), as_json)


@client.command()
@click.argument("uri")
@click.argument("text")
@click.option("--device-id", default=None)
@click.option("--conversation-id", default=None)
@click.option("--mode", default=None)
@timeout_option
@json_option
def handle(uri: str, text: str, device_id: Optional[str], conversation_id: Optional[str], mode: Optional[str],
           timeout: float, as_json: bool) -> None:
    """Ask a conversation agent, as Home Assistant does."""
    _print(_run(actions.handle(uri, text, device_id, conversation_id, mode, timeout=timeout)), as_json)


@client.command()
@click.option("--stt", required=True)
@click.option("--intent", required=True)
@click.option("--tts", required=True)
@click.argument("wav", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--device-id", default=None)
@click.option("--fast", is_flag=True, help="Send audio as fast as possible instead of in real time.")
@timeout_option
@json_option
def pipeline(stt: str, intent: str, tts: str, wav: Path, output: Optional[Path], device_id: Optional[str], fast: bool,
             timeout: float, as_json: bool) -> None:
    """One turn end to end with per-stage timings (ms after the end of the audio)."""
    turn = run_pipeline(stt, intent, tts, wav, output, device_id, realtime=not fast, timeout=timeout, on_partial=_partials(as_json))
    _print(_run(turn), as_json)


@client.command()
@click.option("--seconds", default=3.0, show_default=True, help="How long to listen.")
@click.option("--interface", default=None, help="Only this local address (e.g. 127.0.0.1).")
@timeout_option
@json_option
def discover(seconds: float, interface: Optional[str], timeout: float, as_json: bool) -> None:
    """List `_wyoming._tcp.local.` services and what they serve."""
    found = _run(discover_servers(seconds, interface, timeout))
    if as_json:
        click.echo(json.dumps([vars(f) for f in found], indent=2))
        return
    if not found:
        click.echo("no Wyoming services found (is UDP 5353 blocked, or on another VLAN?)")
    for item in found:
        what = ", ".join(item.serves) or f"describe failed: {item.error}"
        click.echo(f"{item.name:40} tcp://{item.host}:{item.port:<6} {what}  {' '.join(item.programs)}")
