"""Read the deploy files as Docker and Compose would, and argv as our click CLIs would."""

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

import click
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "Dockerfile"
COMPOSE = REPO / "docker" / "compose.yaml"

_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}")


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's `${NAME}`, `${NAME:-default}`, `${NAME-default}` and `$$` in every string."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, default = match.group("name", "op", "default")
        if op == ":-" and not env.get(name):
            return default
        return env.get(name, default if op == "-" else "")

    if re.search(r"\$[{A-Za-z_]", _VARIABLE.sub("", value)):
        raise ValueError(f"compose interpolation this test does not understand: {value!r}")
    return _VARIABLE.sub(substitute, value)


def load_compose(env: Mapping[str, str] = {}) -> dict[str, Any]:
    """compose.yaml with YAML anchors merged and variables substituted."""
    return interpolate(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")), env)


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping, whichever form it is written in."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def port_of(uri: str) -> int:
    """The port of tcp://HOST:PORT."""
    parts = urlsplit(uri)
    assert parts.scheme == "tcp" and parts.port, uri
    return parts.port


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    keyword: str
    args: str
    stage: int  # 0 = before the first FROM, then 1, 2, ...


def dockerfile(path: Path = DOCKERFILE) -> list[Instruction]:
    """The instructions in order, comments dropped."""
    instructions, pending, stage = [], "", 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if pending and line.lstrip().startswith("#"):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, args = pending.strip().partition(" ")
        stage += keyword.upper() == "FROM"
        instructions.append(Instruction(keyword.upper(), " ".join(args.split()), stage))
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def env_instructions(instructions: list[Instruction], stage: int) -> dict[str, str]:
    """ENV KEY=VALUE pairs of one stage."""
    env: dict[str, str] = {}
    for item in instructions:
        if item.keyword == "ENV" and item.stage == stage:
            env.update(pair.split("=", 1) for pair in shlex.split(item.args))
    return env


def parse_cli(group: click.Group, argv: list[str], prog: str) -> tuple[list[str], dict[str, Any]]:
    """The command path and parameters click gives argv, without running it (raises UsageError).

    Our groups take no options of their own, so each word before the leaf is a subcommand.
    """
    names, command, ctx, args = [prog], group, None, list(argv)
    while isinstance(command, click.Group):
        ctx = click.Context(command, info_name=names[-1], parent=ctx)
        if not args:
            raise click.UsageError("missing command", ctx)
        name, command, args = command.resolve_command(ctx, args)
        names.append(name)
    leaf = command.make_context(names[-1], args, parent=ctx)
    return names, leaf.params
