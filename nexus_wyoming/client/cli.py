"""`nexus-wyoming client ...`: readable tables by default, `--json` for scripts."""

import asyncio
import json
import sys
from pathlib import Path
from typing import Any, Awaitable, Optional

import click

from . import actions
from .discover import discover as discover_servers
from .pipeline import pipeline as run_pipeline

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def _run(action: Awaitable[Any]) -> Any:
    try:
        return asyncio.run(action)
    except (actions.ClientError, OSError, TimeoutError, ValueError) as err:
        click.echo(f"nexus-wyoming client: {err or type(err).__name__}", err=True)
        sys.exit(1)


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
@json_option
def describe(uri: str, as_json: bool) -> None:
    """Show what a server offers (`describe` → `info`)."""
    result = _run(actions.describe(uri))
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
@json_option
def transcribe(uri: str, wav: Path, fast: bool, language: Optional[str], as_json: bool) -> None:
    """Stream a WAV file to an STT server; prints partials and the transcript with timings."""
    _print(_run(actions.transcribe(uri, wav, realtime=not fast, language=language)), as_json)


@client.command()
@click.argument("uri")
@click.argument("text")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="WAV file to write.")
@click.option("--stream", is_flag=True, help="Use synthesize streaming, word by word.")
@click.option("--voice", default=None)
@json_option
def synthesize(uri: str, text: str, output: Optional[Path], stream: bool, voice: Optional[str], as_json: bool) -> None:
    """Speak TEXT on a TTS server."""
    _print(_run(actions.synthesize(uri, text, output, stream=stream, voice=voice)), as_json)


@client.command()
@click.argument("uri")
@click.argument("text")
@click.option("--device-id", default=None)
@click.option("--conversation-id", default=None)
@click.option("--mode", default=None)
@json_option
def handle(uri: str, text: str, device_id: Optional[str], conversation_id: Optional[str], mode: Optional[str], as_json: bool) -> None:
    """Ask a conversation agent, as Home Assistant does."""
    _print(_run(actions.handle(uri, text, device_id, conversation_id, mode)), as_json)


@client.command()
@click.option("--stt", required=True)
@click.option("--intent", required=True)
@click.option("--tts", required=True)
@click.argument("wav", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--device-id", default=None)
@click.option("--fast", is_flag=True, help="Send audio as fast as possible instead of in real time.")
@json_option
def pipeline(stt: str, intent: str, tts: str, wav: Path, output: Optional[Path], device_id: Optional[str], fast: bool, as_json: bool) -> None:
    """One turn end to end with per-stage timings (ms after the end of the audio)."""
    _print(_run(run_pipeline(stt, intent, tts, wav, output, device_id, realtime=not fast)), as_json)


@client.command()
@click.option("--seconds", default=3.0, show_default=True, help="How long to listen.")
@click.option("--interface", default=None, help="Only this local address (e.g. 127.0.0.1).")
@json_option
def discover(seconds: float, interface: Optional[str], as_json: bool) -> None:
    """List `_wyoming._tcp.local.` services and what they serve."""
    found = _run(discover_servers(seconds, interface))
    if as_json:
        click.echo(json.dumps([vars(f) for f in found], indent=2))
        return
    if not found:
        click.echo("no Wyoming services found (is UDP 5353 blocked, or on another VLAN?)")
    for item in found:
        what = ", ".join(item.serves) or f"describe failed: {item.error}"
        click.echo(f"{item.name:40} tcp://{item.host}:{item.port:<6} {what}  {' '.join(item.programs)}")
