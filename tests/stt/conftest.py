"""STT fixtures: spoken test audio cached per session, one model directory shared by
every STT server process of the session, and a module-wide server."""

from pathlib import Path
from typing import Iterator

import pytest

from tests.stt.speech import Speaker
from tests.support.processes import ServerProcess


def stt_args(data_dir: Path, *extra: str) -> list[str]:
    return ["stt", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", str(data_dir), *extra]


@pytest.fixture(scope="session")
def speaker(tmp_path_factory) -> Speaker:
    return Speaker(tmp_path_factory.mktemp("speech"))


@pytest.fixture(scope="session")
def stt_data_dir(tmp_path_factory) -> Path:
    """Shared so the bundled model is assembled once per test session."""
    return tmp_path_factory.mktemp("stt-data")


@pytest.fixture(scope="module")
def stt_server(stt_data_dir) -> Iterator[ServerProcess]:
    server = ServerProcess(stt_args(stt_data_dir)).start()
    yield server
    server.stop()
