"""A real Home Assistant core for tests: its own Python 3.13 venv (built once per version and
cached), a minimal configuration, onboarding and a long-lived token; stopped by PID.

The venv is built into a temporary directory and renamed into place when complete, so an
interrupted build is never reused; it is started with `python -m homeassistant` because a
renamed venv's console scripts point at the old path.
"""

import fcntl
import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import httpx
from websockets.sync.client import connect as ws_connect

from tests.support.processes import REPO
from tests.support.services import free_port

HA_VERSION = "2025.4.4"
#: What `hass --skip-pip` needs beyond core for our configuration (frontend is a critical integration).
REQUIREMENTS = [f"homeassistant=={HA_VERSION}", "wyoming==1.5.4", "home-assistant-frontend==20250411.0"]
CONSTRAINTS = REPO / "tests" / "ha" / "constraints.txt"
CLIENT_ID = "http://127.0.0.1/"
USER, PASSWORD = "nexus", "nexus-test-password"


def python313() -> str:
    """A Python 3.13 interpreter (HA 2025.4 needs it): $NEXUS_HA_PYTHON, PATH, or pyenv's."""
    candidates = [os.environ.get("NEXUS_HA_PYTHON", ""), shutil.which("python3.13") or ""]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3.13")), reverse=True)
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", "import ssl, sqlite3, venv"],
                                        capture_output=True).returncode == 0:
            return candidate
    raise RuntimeError("Home Assistant needs Python 3.13: none found (set NEXUS_HA_PYTHON)")


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nexus-wyoming"


def _build_key() -> str:
    """Changes when what we install changes, so a stale venv is rebuilt."""
    text = "\n".join(REQUIREMENTS) + "\n" + (CONSTRAINTS.read_text() if CONSTRAINTS.exists() else "")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _complete(venv: Path) -> bool:
    try:
        return json.loads((venv / "nexus-build.json").read_text())["key"] == _build_key()
    except (OSError, ValueError, KeyError):
        return False


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder at a time (parallel test sessions on one machine)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ha_venv(log=print) -> Path:
    """The cached venv with Home Assistant core, built (about 2 min on 2 cores) when missing."""
    final = cache_root() / f"ha-{HA_VERSION}"
    if _complete(final):
        return final
    with _locked(cache_root() / f"ha-{HA_VERSION}.lock"):
        if _complete(final):
            return final
        for stale in cache_root().glob(f".ha-{HA_VERSION}.*"):
            shutil.rmtree(stale, ignore_errors=True)  # a build that was interrupted: never reused
        building = cache_root() / f".ha-{HA_VERSION}.build-{os.getpid()}"
        log(f"installing Home Assistant {HA_VERSION} into {final} (once per version)")
        started = time.monotonic()
        build_log = cache_root() / f"ha-{HA_VERSION}-build.log"
        with open(build_log, "w") as out:
            steps = [[python313(), "-m", "venv", str(building)],
                     [str(building / "bin/python"), "-m", "pip", "install", "--no-input", "-q",
                      *(["-c", str(CONSTRAINTS)] if CONSTRAINTS.exists() else []), *REQUIREMENTS]]
            for step in steps:
                if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                    shutil.rmtree(building, ignore_errors=True)
                    raise RuntimeError(f"building the HA venv failed ({' '.join(step[:4])}):\n"
                                       + build_log.read_text()[-4000:])
        seconds = round(time.monotonic() - started, 1)
        (building / "nexus-build.json").write_text(json.dumps({"key": _build_key(), "seconds": seconds}))
        if final.exists():
            old = cache_root() / f".ha-{HA_VERSION}.old-{os.getpid()}"
            final.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        building.rename(final)
        log(f"Home Assistant {HA_VERSION} installed in {seconds} s")
        return final


def configuration(port: int, zeroconf: bool) -> str:
    """Minimal: no default_config; two template lights (input_boolean-backed) for the Kitchen."""
    lights = []
    for key, name in (("kitchen_ceiling", "Ceiling light"), ("kitchen_counter", "Counter light")):
        lights.append(f"""      {key}:
        unique_id: nexus_{key}
        friendly_name: {name}
        value_template: "{{{{ is_state('input_boolean.{key}', 'on') }}}}"
        turn_on: {{action: input_boolean.turn_on, target: {{entity_id: input_boolean.{key}}}}}
        turn_off: {{action: input_boolean.turn_off, target: {{entity_id: input_boolean.{key}}}}}
""")
    return f"""homeassistant:
  name: Nexus test
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  unit_system: metric
  time_zone: UTC
  country: NL
  language: en
  internal_url: http://127.0.0.1:{port}
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
websocket_api:
config:
onboarding:
assist_pipeline:
conversation:
stt:
tts:
wyoming:
{"zeroconf:" if zeroconf else ""}
logger:
  default: info
  logs:
    homeassistant.components.wyoming: debug
    homeassistant.components.assist_pipeline: debug
input_boolean:
  kitchen_ceiling: {{name: Kitchen ceiling switch}}
  kitchen_counter: {{name: Kitchen counter switch}}
light:
  - platform: template
    lights:
{"".join(lights)}"""


@dataclass
class HomeAssistant:
    """`python -m homeassistant -c DIR` on a free port of 127.0.0.1, onboarded, with a token."""

    config_dir: Path
    venv: Path = field(default_factory=ha_venv)
    zeroconf: bool = True
    port: int = 0
    token: str = ""
    proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/websocket"

    @property
    def log_file(self) -> Path:
        return self.config_dir / "home-assistant.log"

    def log(self) -> str:
        """HA's log file so far (or, before it has one, what it printed)."""
        for path in (self.log_file, self.config_dir / "stdout.log"):
            if path.exists() and path.stat().st_size:
                return path.read_text(errors="replace")
        return ""

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def start(self, timeout: float = 180.0) -> "HomeAssistant":
        """Start, onboard, get a long-lived token, wait for RUNNING."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        (self.config_dir / "configuration.yaml").write_text(configuration(self.port, self.zeroconf))
        out = open(self.config_dir / "stdout.log", "w")
        self.proc = subprocess.Popen(
            [str(self.venv / "bin/python"), "-m", "homeassistant", "-c", str(self.config_dir), "--skip-pip",
             "--log-file", str(self.log_file), "--log-no-color"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PATH": f"{self.venv / 'bin'}:{os.environ.get('PATH', '')}"},
        )
        out.close()
        try:
            self._wait(lambda: httpx.get(f"{self.url}/api/onboarding", timeout=2).status_code == 200, timeout)
            self.token = self._onboard()
            self._wait(lambda: self.rest("GET", "/api/config").json().get("state") == "RUNNING", timeout)
        except Exception as err:
            self.stop()
            raise RuntimeError(f"Home Assistant did not start: {err}\n{self.log_tail()}") from err
        return self

    def _wait(self, ready, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"hass exited with code {self.proc.returncode}")
            try:
                if ready():
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"not ready within {timeout} s")

    def _onboard(self) -> str:
        """The owner account over REST, then a long-lived token over the websocket."""
        created = httpx.post(f"{self.url}/api/onboarding/users", timeout=30, json={
            "client_id": CLIENT_ID, "name": "Nexus", "username": USER, "password": PASSWORD, "language": "en"})
        created.raise_for_status()
        tokens = httpx.post(f"{self.url}/auth/token", timeout=30, data={
            "grant_type": "authorization_code", "code": created.json()["auth_code"], "client_id": CLIENT_ID})
        tokens.raise_for_status()
        with ws_connect(self.ws_url, max_size=None) as ws:
            assert json.loads(ws.recv())["type"] == "auth_required"
            ws.send(json.dumps({"type": "auth", "access_token": tokens.json()["access_token"]}))
            assert json.loads(ws.recv())["type"] == "auth_ok"
            ws.send(json.dumps({"id": 1, "type": "auth/long_lived_access_token", "client_name": "nexus-tests",
                                "lifespan": 365}))
            reply = json.loads(ws.recv())
            assert reply["success"], reply
            return reply["result"]

    def rest(self, method: str, path: str, json_body=None, timeout: float = 60.0) -> httpx.Response:
        """An authenticated REST call."""
        return httpx.request(method, f"{self.url}{path}", json=json_body, timeout=timeout,
                             headers={"Authorization": f"Bearer {self.token}"})

    def command(self, kind: str, **data) -> object:
        """One websocket command on its own connection (for synchronous fixtures); its result."""
        with ws_connect(self.ws_url, max_size=None) as ws:
            ws.recv()
            ws.send(json.dumps({"type": "auth", "access_token": self.token}))
            assert json.loads(ws.recv())["type"] == "auth_ok"
            ws.send(json.dumps({"id": 1, "type": kind, **data}))
            reply = json.loads(ws.recv(timeout=60))
            if not reply["success"]:
                raise RuntimeError(f"{kind}: {reply.get('error')}")
            return reply.get("result")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` (to the whole process group)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        except ProcessLookupError:
            pass
