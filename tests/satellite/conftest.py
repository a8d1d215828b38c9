"""Fixtures shared by the satellite tests."""

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from tests.satellite.ha_client import Ha
from tests.satellite.speech import silence, spoken, write_wav
from tests.support.processes import ServerProcess


@pytest.fixture(scope="module")
def command_wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "command.wav"
    return write_wav(path, np.concatenate([silence(0.3), spoken("Turn on the kitchen lights, please."), silence(0.2)]))


@pytest.fixture(scope="module")
def question_wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "question.wav"
    return write_wav(path, np.concatenate([silence(0.5), spoken("What time is it?"), silence(0.3)]))


@pytest.fixture(scope="module")
def stt_server(tmp_path_factory) -> Iterator[ServerProcess]:
    """One STT server for a whole test module (loading the model takes a moment)."""
    server = ServerProcess(["stt", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf",
                            "--data-dir", str(tmp_path_factory.mktemp("stt"))]).start(timeout=180)
    yield server
    server.stop()


@pytest.fixture
def ha(tmp_path, command_wav):
    satellite = Ha(tmp_path, command_wav)
    yield satellite
    satellite.proc.stop()
