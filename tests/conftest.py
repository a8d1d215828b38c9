"""Shared fixtures: real server processes on 127.0.0.1 with throwaway data dirs."""

import os
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.processes import ServerProcess

#: Every intent server of the suite (they inherit this environment) finds the embedded LLM's
#: models joined here once, instead of joining 1.6 GB into each throwaway data dir; the test
#: of the default start (tests/intent/test_embedded_server.py) clears it and joins afresh.
EMBEDDED_MODELS = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nexus-wyoming" / "models"
os.environ.setdefault("NEXUS_INTENT__EMBEDDED__MODEL_DIR", str(EMBEDDED_MODELS))


def tts_args(data_dir) -> list[str]:
    return ["tts", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", str(data_dir)]


@pytest.fixture(scope="module")
def tts_server(tmp_path_factory) -> Iterator[ServerProcess]:
    """One TTS server for a whole test module (loading the voice takes a moment)."""
    server = ServerProcess(tts_args(tmp_path_factory.mktemp("tts"))).start()
    yield server
    server.stop()
