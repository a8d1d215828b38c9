"""Shared fixtures: real server processes on 127.0.0.1 with throwaway data dirs."""

from typing import Iterator

import pytest

from tests.support.processes import ServerProcess


def tts_args(data_dir) -> list[str]:
    return ["tts", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", str(data_dir)]


@pytest.fixture(scope="module")
def tts_server(tmp_path_factory) -> Iterator[ServerProcess]:
    """One TTS server for a whole test module (loading the voice takes a moment)."""
    server = ServerProcess(tts_args(tmp_path_factory.mktemp("tts"))).start()
    yield server
    server.stop()
