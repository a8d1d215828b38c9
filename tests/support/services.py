"""Throwaway PostgreSQL and Redis servers for tests and benchmarks, on free local ports.

Each is a child process of ours (not a system service), in its own temporary directory,
so tests can stop, kill and restart it. PostgreSQL refuses to run as root: as root the
cluster belongs to the `postgres` user (or `nobody`).
"""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

DB_USER = "nexus"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float, what: str) -> None:
    """Until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout} s")


def postgres_bin() -> Path:
    """The newest installed PostgreSQL server binaries (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL is not installed: ./test.sh installs it (apt-get install postgresql)")


def _run_as() -> Optional[pwd.struct_passwd]:
    """The account PostgreSQL runs as when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and no postgres/nobody account to run PostgreSQL as")


class _Throwaway:
    """Stopping, crashing and removing a throwaway server process; subclasses say how it stops."""

    proc: Optional[subprocess.Popen]
    root: Path

    def stop(self) -> None:
        raise NotImplementedError

    def kill(self) -> None:
        """Crash it."""
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)
        self.proc = None

    def remove(self) -> None:
        """Stop it and delete its directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Postgres(_Throwaway):
    """A PostgreSQL cluster in a temporary directory, listening on 127.0.0.1:port."""

    fsync: bool = False
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="nexus-pg-")))
    proc: Optional[subprocess.Popen] = None

    def __post_init__(self) -> None:
        self.bin = postgres_bin()
        self.account = _run_as()
        self.data = self.root / "data"
        self.log = self.root / "server.log"

    def _popen_args(self) -> dict:
        if self.account is None:
            return {}
        return {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}

    def init(self) -> "Postgres":
        """initdb (trust authentication on the local socket and 127.0.0.1 only)."""
        if self.account is not None:
            os.chown(self.root, self.account.pw_uid, self.account.pw_gid)
        subprocess.run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", DB_USER, "--auth=trust", "-E", "UTF8",
             "--locale=C.UTF-8", "--no-sync"],
            check=True, capture_output=True, **self._popen_args(),
        )
        return self

    def start(self, timeout: float = 60.0) -> "Postgres":
        """Run the server (again, after stop() or kill(), on the same port and data)."""
        log = open(self.log, "ab")
        if self.account is not None:
            os.chown(self.log, self.account.pw_uid, self.account.pw_gid)
        self.proc = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.root),
             "-c", "listen_addresses=127.0.0.1", "-c", f"fsync={'on' if self.fsync else 'off'}",
             "-c", "max_connections=200"],
            stdout=log, stderr=subprocess.STDOUT, **self._popen_args(),
        )
        log.close()
        wait_for_port(self.port, self.proc, timeout, "PostgreSQL")
        deadline = time.monotonic() + timeout
        while subprocess.run([str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]).returncode:
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not become ready:\n" + self.log.read_text(errors="replace"))
            time.sleep(0.1)
        return self

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", DB_USER, name],
                       check=True, capture_output=True)
        return self.url(name)

    def url(self, database: str = "postgres") -> str:
        """asyncpg / libpq URL of a database."""
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Fast shutdown (SIGINT), as an administrator would."""
        self._signal(signal.SIGINT)



@dataclass
class Redis(_Throwaway):
    """A redis-server without persistence in a temporary directory, on 127.0.0.1:port."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="nexus-redis-")))
    proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        """redis-py URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30.0) -> "Redis":
        """Run the server (again, after stop() or kill(), on the same port: empty, no persistence)."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: ./test.sh installs it (apt-get install redis-server)")
        log = open(self.root / "server.log", "ab")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root), "--daemonize", "no"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for_port(self.port, self.proc, timeout, "redis-server")
        return self

    def stop(self) -> None:
        """Shut down cleanly."""
        self._signal(signal.SIGTERM)

