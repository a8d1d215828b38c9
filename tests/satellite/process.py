"""`nexus-satellite` as a real process for integration tests (like ServerProcess for servers)."""

import os
import subprocess
import sys
import threading
from dataclasses import dataclass

from tests.support.processes import REPO, ServerProcess


@dataclass
class SatelliteProcess(ServerProcess):
    """`python -m satellite ARGS`; `port` is set when it listens (HA mode)."""

    wait_for_port: bool = True

    def start(self, timeout: float = 60.0) -> "SatelliteProcess":
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "satellite", *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO,
        )
        ready = threading.Event()
        threading.Thread(target=self._pump, args=(ready,), daemon=True).start()
        if self.wait_for_port and (not ready.wait(timeout) or not self.port):
            self.stop()
            raise RuntimeError("satellite did not start:\n" + self.log)
        return self
