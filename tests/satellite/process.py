"""`nexus-satellite` as a real process for integration tests (like ServerProcess for servers)."""

import sys
from dataclasses import dataclass, field

from tests.support.processes import ServerProcess


@dataclass
class SatelliteProcess(ServerProcess):
    """`python -m satellite ARGS`; `port` is set when it listens (HA mode)."""

    command: list[str] = field(default_factory=lambda: [sys.executable, "-m", "satellite"])
