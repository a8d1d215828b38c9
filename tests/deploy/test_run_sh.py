"""The README's first command as a newcomer runs it: a fresh clone, `./run.sh`, no flags.

It installs its own .venv, serves all three servers on their default ports (bound to
0.0.0.0), advertises them on mDNS, and stops cleanly on SIGTERM.
"""

import socket
import subprocess

import pytest

from nexus_wyoming.client.actions import describe
from nexus_wyoming.client.discover import discover
from tests.support.processes import REPO, ServerProcess

DEFAULT_PORTS = {"stt": 10300, "intent": 10600, "tts": 10200}
SERVES = {"stt": "asr", "intent": "handle", "tts": "tts"}


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def clone(tmp_path):
    taken = [port for port in DEFAULT_PORTS.values() if port_in_use(port)]
    assert not taken, f"default ports {taken} are in use: stop what listens there (another ./run.sh?)"
    subprocess.run(["git", "clone", "-q", str(REPO), str(tmp_path / "clone")], check=True, timeout=120)
    return tmp_path / "clone"


async def test_run_sh_without_arguments_serves_and_advertises_every_server(clone, tmp_path):
    # The data dir stays the default (XDG), just under this test's directory.
    run = ServerProcess([], command=["./run.sh"], cwd=clone, wait_for_port=False,
                        env={"XDG_DATA_HOME": str(tmp_path / "data")})
    run.start()
    try:
        for kind in DEFAULT_PORTS:  # the install may take minutes on a fresh machine
            assert run.wait_for_log(rf"nexus-wyoming {kind} listening on tcp://0\.0\.0\.0:{DEFAULT_PORTS[kind]}",
                                    timeout=900), run.log
        for kind, port in DEFAULT_PORTS.items():
            info = (await describe(f"tcp://127.0.0.1:{port}")).values["info"]
            assert info.get(SERVES[kind]), (kind, info)
        for kind in DEFAULT_PORTS:
            assert run.wait_for_log(rf"advertised nexus-{kind}-", timeout=30), run.log
        found = {f.name: f for f in await discover(4.0)}
        host = socket.gethostname()
        for kind, port in DEFAULT_PORTS.items():
            entry = found.get(f"nexus-{kind}-{host}")
            assert entry is not None, (kind, sorted(found))
            assert entry.port == port and SERVES[kind] in entry.serves and entry.host != "127.0.0.1", entry
        assert run.terminate(timeout=60) == 0, run.log
        assert not any(port_in_use(port) for port in DEFAULT_PORTS.values())
        assert "Traceback" not in run.log, run.log
    finally:
        run.stop()
