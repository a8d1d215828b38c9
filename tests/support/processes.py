"""Real server processes for integration tests, on free ports of 127.0.0.1."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"listening on tcp://([\d.]+):(\d+)")


@dataclass
class ServerProcess:
    """A `nexus-wyoming` server started with --uri tcp://127.0.0.1:0; its log is kept.

    `command` replaces `python -m nexus_wyoming` (e.g. a checkout's ./run.sh).
    """

    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 0
    proc: Optional[subprocess.Popen] = None
    lines: list[str] = field(default_factory=list)
    command: Optional[list[str]] = None
    cwd: Path = REPO
    wait_for_port: bool = True

    def start(self, timeout: float = 60.0) -> "ServerProcess":
        """Start and wait until it listens."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        command = self.command or [sys.executable, "-m", "nexus_wyoming"]
        self.proc = subprocess.Popen(
            [*command, *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=self.cwd,
            start_new_session=True,  # stop() can take its children (a supervisor's servers) with it
        )
        ready = threading.Event()
        threading.Thread(target=self._pump, args=(ready,), daemon=True).start()
        if self.wait_for_port and (not ready.wait(timeout) or not self.port):
            self.stop()
            raise RuntimeError(f"{command[-1]} did not start:\n" + self.log)
        return self

    def _pump(self, ready: threading.Event) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            match = _LISTENING.search(line)
            if match and not self.port:
                self.host, self.port = match.group(1), int(match.group(2))
                ready.set()
        ready.set()

    @property
    def log(self) -> str:
        """Everything the process printed so far."""
        return "".join(self.lines)

    @property
    def alive(self) -> bool:
        """Still running."""
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        """Make sure it and every process it started are gone."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)

    def wait_for_log(self, pattern: str, timeout: float = 10.0) -> bool:
        """True once a log line matches `pattern`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.log):
                return True
            time.sleep(0.05)
        return False
