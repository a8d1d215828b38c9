"""Container health check: `describe` exactly the servers the container's command runs, so a
one-server container is not unhealthy for the two servers it does not run.

Usage: python3 healthcheck.py [COMMAND...]   (default: PID 1's command, e.g. `nexus-wyoming stt --uri ...`)
Exit 0 when every server answers `info`, 1 otherwise (Docker's meaning).
"""

import asyncio
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import click

from nexus_wyoming.cli import SERVER_KINDS, main as cli
from nexus_wyoming.client.actions import describe
from nexus_wyoming.config import load_config

PROBE_TIMEOUT_S = 5.0
#: What a listening address is reached at from inside the container.
LOCAL = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}


def container_command(cmdline: Path = Path("/proc/1/cmdline")) -> list[str]:
    """PID 1's arguments after `nexus-wyoming` (an init such as tini may come before it)."""
    argv = cmdline.read_bytes().decode().split("\0")
    starts = [n for n, word in enumerate(argv) if Path(word).name == "nexus-wyoming"]
    if not starts:
        raise SystemExit(f"healthcheck: PID 1 is not nexus-wyoming: {' '.join(argv)}")
    return [word for word in argv[starts[0] + 1:] if word]


def served_uris(argv: list[str]) -> dict[str, str]:
    """Each server kind the command runs and the address it listens on, as the server resolves it."""
    ctx = click.Context(cli, info_name="nexus-wyoming")  # the group takes no options but --version
    name, command, rest = cli.resolve_command(ctx, list(argv))
    params = command.make_context(name, rest, parent=ctx).params
    if name == "serve":
        kinds = [k.strip() for k in params["only"].split(",")] if params["only"] else list(SERVER_KINDS)
        config = load_config(params["config_file"])
    elif name in SERVER_KINDS:
        kinds = [name]
        config = load_config(params["config_file"], {f"{name}.uri": params["uri"]} if params["uri"] else {})
    else:
        raise SystemExit(f"healthcheck: `nexus-wyoming {name}` runs no server")
    return {kind: local_uri(getattr(config, kind).uri) for kind in kinds}


def local_uri(uri: str) -> str:
    """A tcp:// listening address as a client inside the container dials it."""
    parts = urlsplit(uri)
    if parts.scheme != "tcp" or parts.hostname not in LOCAL:
        return uri
    return urlunsplit(parts._replace(netloc=f"{LOCAL[parts.hostname]}:{parts.port}"))


async def probe(uris: dict[str, str]) -> list[str]:
    """The servers that did not answer `describe` in time, with the reason."""

    async def one(kind: str, uri: str) -> str:
        try:
            await asyncio.wait_for(describe(uri), PROBE_TIMEOUT_S)
            return ""
        except Exception as err:  # any failure is "unhealthy", with its reason
            return f"{kind}: {err or type(err).__name__}"

    return [failure for failure in await asyncio.gather(*(one(k, u) for k, u in uris.items())) if failure]


def main(argv: list[str]) -> int:
    uris = served_uris(argv or container_command())
    failures = asyncio.run(probe(uris))
    for failure in failures:
        print(f"healthcheck: {failure}", file=sys.stderr)
    if not failures:
        print("healthy: " + ", ".join(f"{kind} {uri}" for kind, uri in uris.items()))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
