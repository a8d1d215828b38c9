"""What a server would refuse at start is refused by `config --config FILE` and `serve` too,
in one line naming the key and where it came from; the file's own faults as well."""

import subprocess
import sys

import pytest

from nexus_wyoming.config import ConfigError, load_config
from tests.support.processes import REPO


def nexus(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "nexus_wyoming", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("text, message", [
    ("intent:\n  timezone: Mars/Base\n", "intent.timezone: unknown time zone 'Mars/Base'"),
    ("intent:\n  default_mode: turbo\n", "default mode 'turbo' is not one of"),
    ("intent:\n  device_modes:\n    kitchen: turbo\n", "intent.device_modes.kitchen"),
    ("tts:\n  piper:\n    voice: nobody\n", "tts.piper.voice: piper voice 'nobody' not found"),
    ("tts:\n  uri: foo://bar\n", "tts.uri: expected tcp://HOST:PORT or unix://PATH, got 'foo://bar'"),
    ("stt:\n  uri: tcp://host:notaport\n", "stt.uri: bad port"),
    ("status_peers: ['ftp://x']\n", "status_peers"),
])
def test_config_check_runs_the_servers_start_checks(tmp_path, text, message):
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    done = nexus("config", "--config", str(path))
    assert done.returncode == 2, done.stdout
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_modes_file_with_an_unknown_key_is_refused_by_the_check(tmp_path):
    modes = tmp_path / "modes.yaml"
    modes.write_text("modes:\n  quick:\n    max_tokens: 10\nturbo: true\n")
    path = tmp_path / "settings.yaml"
    path.write_text(f"intent:\n  modes_file: {modes}\n")
    done = nexus("config", "--config", str(path))
    assert done.returncode == 2 and "unknown key 'turbo'" in done.stderr, done.stderr


def test_serve_refuses_them_before_starting_anything(tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_text("intent:\n  timezone: Mars/Base\n")
    done = nexus("serve", "--config", str(path), "--no-zeroconf", "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 2 and "intent.timezone" in done.stderr, done.stderr
    assert "listening" not in done.stderr


@pytest.mark.parametrize("content, message", [
    (b"debug: true\ndebug: false\n", "duplicate key 'debug'"),
    (b"tts:\n  engines: [piper]\ntts:\n  samples_per_chunk: 512\n", "duplicate key 'tts'"),
    (b"name: \xff\xfe\n", "not UTF-8 text"),
    (b"limits:\n  idle_timeout_s: .inf\n", "limits.idle_timeout_s: inf is not a valid value"),
    (b"limits:\n  drain_timeout_s: .nan\n", "limits.drain_timeout_s: nan is not a valid value"),
])
def test_file_faults_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "settings.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})
    done = nexus("config", "--config", str(path))
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("variable", ["NEXUS_BOGUS__X", "NEXUS_TTS__BOGUS", "NEXUS_TTS__PIPER__BOGUS"])
def test_an_unknown_nested_variable_is_refused_naming_it(variable):
    with pytest.raises(ConfigError, match=f"unknown key \\(in environment variable {variable}\\)"):
        load_config(environ={variable: "1"})


def test_a_bad_value_from_the_environment_names_its_variable():
    with pytest.raises(ConfigError, match=r"tts\.samples_per_chunk: .*\(in environment variable NEXUS_TTS__SAMPLES_PER_CHUNK\)"):
        load_config(environ={"NEXUS_TTS__SAMPLES_PER_CHUNK": "lots"})


def test_another_programs_variable_is_left_alone():
    assert load_config(environ={"NEXUS_HOME": "/somewhere", "NEXUS_BOGUS": "1"}) == load_config(environ={})


def test_an_unwritable_data_dir_stops_the_server_at_start(tmp_path):
    done = nexus("intent", "--data-dir", "/proc/1", "--no-zeroconf", "--uri", "tcp://127.0.0.1:0")
    assert done.returncode == 2 and "data dir /proc/1 is not writable" in done.stderr, done.stderr
