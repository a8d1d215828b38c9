"""Fixtures shared by the satellite tests."""

from pathlib import Path

import numpy as np
import pytest

from tests.satellite.ha_client import Ha
from tests.satellite.speech import silence, spoken, write_wav


@pytest.fixture(scope="module")
def command_wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "command.wav"
    return write_wav(path, np.concatenate([silence(0.3), spoken("Turn on the kitchen lights, please."), silence(0.2)]))


@pytest.fixture
def ha(tmp_path, command_wav):
    satellite = Ha(tmp_path, command_wav)
    yield satellite
    satellite.proc.stop()
