"""Intent fixtures: the embedded LLM's bundled models, joined once (see tests/conftest.py)."""

from pathlib import Path

import pytest

from tests.conftest import EMBEDDED_MODELS


@pytest.fixture(scope="session")
def embedded_models_dir() -> Path:
    """Shared by every test (and server process) that loads the embedded model."""
    return EMBEDDED_MODELS
