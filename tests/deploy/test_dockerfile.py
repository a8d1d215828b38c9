"""docker/Dockerfile: stages, user, ports, health check, settings and build steps, checked without Docker.

Docker cannot run here, so each build step is checked by its equivalent: the files it
copies exist and are not ignored, its settings load, its model step runs for real.
"""

import fnmatch
import glob
import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from nexus_wyoming.cli import SERVER_KINDS, main
from nexus_wyoming.config import DEFAULT_FILE, ENV_PREFIX, IntentSettings, WhisperSettings, load_config
from nexus_wyoming.intent.modes import load_modes
from nexus_wyoming.stt.model import bundled_whisper_base, resolve_whisper_model

from .files import REPO, dockerfile, env_instructions, parse_cli, port_of
from .test_compose import setting

INSTRUCTIONS = dockerfile()
RUNTIME = max(i.stage for i in INSTRUCTIONS)
ENV = env_instructions(INSTRUCTIONS, RUNTIME)
SERVER_PORTS = {port_of(yaml.safe_load(DEFAULT_FILE.read_text())[kind]["uri"]) for kind in SERVER_KINDS}
BIN = Path(sys.executable).parent


def only(keyword: str, stage: int = RUNTIME) -> str:
    found = [i.args for i in INSTRUCTIONS if i.keyword == keyword and i.stage == stage]
    assert len(found) == 1, f"{keyword}: {found}"
    return found[0]


def prepare_step() -> list[str]:
    """The build stage's `python /tmp/prepare_models.py ...` command."""
    run = next(i.args for i in INSTRUCTIONS if i.keyword == "RUN" and "prepare_models.py" in i.args)
    return shlex.split(run.split("&&")[0])


def healthcheck() -> tuple[list[int], str, str]:
    """The ports the HEALTHCHECK loops over, the loop body, and the whole shell command."""
    options, _, command = only("HEALTHCHECK").partition(" CMD ")
    assert "--timeout=" in options and "--start-period=" in options
    loop = re.fullmatch(r"for port in ([\d ]+); do (.+); done", command)
    assert loop, command
    return [int(p) for p in loop.group(1).split()], loop.group(2), command


def test_two_stages_from_python_slim():
    args = next(i.args for i in INSTRUCTIONS if i.keyword == "ARG" and i.stage == 0)
    name, _, default = args.partition("=")
    froms = [i.args for i in INSTRUCTIONS if i.keyword == "FROM"]
    assert default == "python:3.11-slim" and froms == [f"${{{name}}} AS build", f"${{{name}}}"]
    copied = [i.args for i in INSTRUCTIONS if i.keyword == "COPY" and "--from=build" in i.args]
    assert copied and all(i.stage == RUNTIME for i in INSTRUCTIONS if "--from=build" in i.args)


def test_runs_as_a_system_user_not_root():
    user = only("USER")
    assert user not in ("root", "0")
    created = [i.args for i in INSTRUCTIONS if i.keyword == "RUN" and i.stage == RUNTIME and "useradd" in i.args]
    assert created and re.search(rf"useradd .*--system .*\b{user}\b", created[0])
    assert f"chown {user}:{user} {ENV['NEXUS_DATA_DIR']}" in created[0]


def test_entrypoint_and_default_command_are_the_cli():
    assert json.loads(only("ENTRYPOINT")) == ["nexus-wyoming"]
    assert parse_cli(main, json.loads(only("CMD")), "nexus-wyoming")[0] == ["nexus-wyoming", "serve"]
    assert ENV["PATH"].startswith("/opt/venv/bin:")
    assert "RUN python -m venv /opt/venv" in [f"{i.keyword} {i.args}" for i in INSTRUCTIONS]


def test_exposes_the_servers_default_ports():
    exposed = {int(port) for port in only("EXPOSE").split()}
    assert exposed == SERVER_PORTS


def test_healthcheck_describes_every_exposed_server():
    ports, body, _ = healthcheck()
    assert sorted(ports) == sorted(SERVER_PORTS)
    argv = shlex.split(body.split(">", 1)[0].replace("$port", str(ports[0])))
    assert parse_cli(main, argv[1:], argv[0]) == (
        ["nexus-wyoming", "client", "describe"], {"uri": f"tcp://127.0.0.1:{ports[0]}", "as_json": False})


def run_healthcheck(ports: list[int]) -> int:
    """The HEALTHCHECK's shell command, as Docker runs it (/bin/sh -c), over other ports."""
    _, _, command = healthcheck()
    command = re.sub(r"for port in [\d ]+;", f"for port in {' '.join(map(str, ports))};", command)
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    return subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, timeout=60).returncode


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthcheck_passes_on_a_live_server_and_fails_on_any_dead_one(tts_server):
    dead = closed_port()
    assert run_healthcheck([tts_server.port]) == 0
    assert run_healthcheck([tts_server.port, dead]) == 1
    assert run_healthcheck([dead, tts_server.port]) == 1


def test_environment_names_real_settings():
    config = load_config(environ=ENV)
    for name, value in ENV.items():
        if name.startswith(ENV_PREFIX) and name != "NEXUS_DATA_DIR":
            assert setting(config, name[len(ENV_PREFIX):].lower().replace("__", ".")) == value, name
    assert str(config.data_path) == ENV["NEXUS_DATA_DIR"] == only("VOLUME") == only("WORKDIR")


def image_path_source(path: str) -> Path:
    """The repository file a runtime-stage `COPY src/ dest/` puts at `path`."""
    for item in INSTRUCTIONS:
        if item.keyword == "COPY" and item.stage == RUNTIME and "--from" not in item.args:
            source, dest = item.args.split()
            if path.startswith(dest):
                return REPO / source / path[len(dest):]
    raise AssertionError(f"nothing in the image puts a file at {path}")


def test_modes_file_setting_names_a_copied_file_that_loads():
    source = image_path_source(ENV["NEXUS_INTENT__MODES_FILE"])
    assert source.is_file()
    assert load_modes(IntentSettings(modes_file=str(source))).names


def test_model_dir_setting_is_where_the_build_joins_the_model():
    model_dir = ENV["NEXUS_STT__WHISPER__MODEL_DIR"]
    step = prepare_step()
    assert step[step.index("--whisper-dir") + 1] == model_dir
    copies = [i.args.split()[1:] for i in INSTRUCTIONS if i.keyword == "COPY" and i.args.startswith("--from=build")]
    assert any(model_dir.startswith(source) and source == dest for source, dest in copies)


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, simplified: a pattern excludes a path or any folder above it."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(fnmatch.fnmatch(prefix, pattern.removeprefix("**/")) or fnmatch.fnmatch(prefix, pattern)
               for pattern in patterns for prefix in prefixes)


def test_copied_sources_exist_and_are_not_dockerignored():
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert not [p for p in patterns if p.startswith("!")], "exceptions are not modelled here"
    sources = [s for i in INSTRUCTIONS if i.keyword == "COPY" and "--from" not in i.args for s in i.args.split()[:-1]]
    needed = sources + ["config/modes.yaml", "nexus_wyoming/cli.py", "satellite/cli.py"]
    for source in needed:
        assert (REPO / source).exists(), source
        assert not dockerignored(source, patterns), f"{source} is excluded by .dockerignore"
    assert dockerignored(".venv/bin/python", patterns) and dockerignored("nexus_wyoming/__pycache__/x.pyc", patterns)


def test_parts_removal_matches_exactly_the_installed_model_parts():
    run = next(i.args for i in INSTRUCTIONS if i.keyword == "RUN" and "prepare_models.py" in i.args)
    pattern = next(word for word in run.split() if "model.bin.part" in word)
    found = sorted(glob.glob(pattern.replace("/opt/venv", sys.prefix, 1)))
    assert found == sorted(str(part.path) for part in bundled_whisper_base().parts)


def test_prepare_step_joins_a_model_the_stt_server_loads(tmp_path):
    step = prepare_step()
    target = tmp_path / "models" / "whisper-base"
    argv = [sys.executable, str(REPO / "docker" / "prepare_models.py")]
    argv += [str(target) if word == step[step.index("--whisper-dir") + 1] else word for word in step[2:]]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"whisper model: {target}" in done.stdout and "en_US-joe-medium.onnx" in done.stdout
    assert resolve_whisper_model(WhisperSettings(model_dir=str(target)), tmp_path) == str(target)
    assert (target / "model.bin").stat().st_size == bundled_whisper_base().size
