"""The image and the compose stack for real, with podman: build them (on a Debian base made
from the apt mirror, since no registry is reachable here), run the default image, bring
docker/compose.yaml up, pass every healthcheck and put one voice turn through the containers.

Images stay in podman's store between runs (layer cache), the base under $NEXUS_CACHE_DIR;
only containers and the test's volumes are removed.
"""

import asyncio
import functools
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from nexus_wyoming.cli import SERVER_KINDS
from nexus_wyoming.client.actions import describe
from tests.client.support import client
from tests.support.services import free_port

from .files import COMPOSE, REPO, load_compose, port_of
from .test_compose import DEFAULTS, servers

CACHE = Path(os.environ.get("NEXUS_CACHE_DIR", "/var/cache/nexus-wyoming"))
PODMAN_ENV = {**os.environ, "CONTAINERS_CONF": str(Path(__file__).with_name("containers.conf"))}
PODMAN_COMPOSE = Path(sys.executable).parent / "podman-compose"
DEFAULT_IMAGE = "nexus-wyoming:latest"
REDIS_IMAGE = "localhost/nexus-redis:bookworm"
PROJECT = "nexus-test"
PORTS = {kind: port_of(DEFAULTS[kind]["uri"]) for kind in SERVER_KINDS}
SERVES = {"stt": "asr", "intent": "handle", "tts": "tts"}
START_TIMEOUT_S = 180  # the STT server loads Whisper first; 2 shared cores


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    """One podman command with the test's podman settings, output captured."""
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, env=PODMAN_ENV)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: exit {done.returncode}\n{done.stdout}{done.stderr}")
    return done


@functools.cache
def host_tls_mounts() -> tuple[str, ...]:
    """Build-time mounts that make the build's pip trust what this host's pip trusts (a TLS proxy's CA)."""
    bundle = os.environ.get("PIP_CERT") or ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
    pip_conf = CACHE / "build-pip.conf"
    pip_conf.write_text("[global]\ncert = /etc/ssl/certs/host-ca.crt\n")
    return "-v", f"{bundle}:/etc/ssl/certs/host-ca.crt:ro", "-v", f"{pip_conf}:/etc/pip.conf:ro"


@dataclass(frozen=True)
class Built:
    """An image, how long its build took and how big it is."""

    image: str
    seconds: float
    size_mb: float


def build(image: str, dockerfile: str, args: dict[str, str]) -> Built:
    """`podman build` from the repository root, timed (layers cached by podman)."""
    started = time.monotonic()
    build_args = [f"--build-arg={key}={value}" for key, value in args.items()]
    podman("build", "--format", "docker", "--network", "host", *host_tls_mounts(), "-f", dockerfile, *build_args,
           "-t", image, str(REPO), timeout=600)
    return measured(image, started)


def measured(image: str, started: float) -> Built:
    """An image's size and the seconds since `started`."""
    size = int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout)
    return Built(image, round(time.monotonic() - started, 1), round(size / 1e6))


@dataclass(frozen=True)
class Images:
    base: Built
    default: Built
    redis: Built
    servers: dict[str, Built]


@pytest.fixture(scope="module")
def images() -> Images:
    """The base, the default image (EXTRAS=servers), Redis, and compose's one-server images."""
    assert shutil.which("podman") and shutil.which("debootstrap"), "./test.sh installs podman and debootstrap"
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    script = subprocess.run([str(REPO / "docker" / "debian-base.sh")], capture_output=True, text=True, timeout=600,
                            env=PODMAN_ENV)
    assert script.returncode == 0, script.stderr
    base = measured(script.stdout.strip(), started)
    compose_images = servers(load_compose({"NEXUS_PYTHON_IMAGE": base.image}))
    builds = {"default": (DEFAULT_IMAGE, "docker/Dockerfile", {"PYTHON_IMAGE": base.image}),
              "redis": (REDIS_IMAGE, "docker/redis.Dockerfile", {"BASE_IMAGE": base.image}),
              **{kind: (service["image"], service["build"]["dockerfile"], service["build"]["args"])
                 for kind, service in compose_images.items()}}
    with ThreadPoolExecutor(max_workers=2) as pool:  # two at a time: downloads overlap unpacking and commits
        done = dict(zip(builds, pool.map(lambda args: build(*args), builds.values())))
    built = Images(base, done.pop("default"), done.pop("redis"), done)
    print("\n| image | build s | size MB |\n|---|---|---|")
    for item in (base, built.default, built.redis, *built.servers.values()):
        print(f"| {item.image} | {item.seconds} | {item.size_mb} |")
    print(f"| all (two builds at a time) | {round(time.monotonic() - started, 1)} | |")
    return built


def logs(names: list[str]) -> str:
    """Each container's log, for a failure message."""
    return "".join(f"\n--- {name}\n" + podman("logs", name, check=False).stdout + podman("logs", name, check=False).stderr
                   for name in names)


@contextmanager
def logged(names: list[str]) -> Iterator[None]:
    """On a failure, print the containers' logs (pytest shows them with the failure)."""
    try:
        yield
    except BaseException:
        print(logs(names))
        raise


async def described(uris: dict[str, str], timeout: float = START_TIMEOUT_S) -> dict[str, dict]:
    """Each server's `info`, polling until all answer (a container's servers start in seconds to a minute)."""
    deadline, infos = time.monotonic() + timeout, {}
    while len(infos) < len(uris):
        for kind, uri in uris.items():
            if kind not in infos:
                try:
                    infos[kind] = (await describe(uri)).values["info"]
                except (OSError, TimeoutError) as err:
                    assert time.monotonic() < deadline, f"{kind} at {uri} never answered describe: {err}"
        await asyncio.sleep(1)
    return infos


def health(name: str) -> str:
    """Run the container's healthcheck now (no systemd timers here) and read the state it leaves."""
    podman("healthcheck", "run", name, check=False, timeout=60)
    state = json.loads(podman("inspect", name).stdout)[0]["State"]
    return (state.get("Health") or state.get("Healthcheck") or {}).get("Status", "none")


async def test_default_image_serves_every_server_and_is_healthy(images):
    name = f"{PROJECT}-serve"
    ports = {kind: free_port() for kind in SERVER_KINDS}
    podman("rm", "--force", name, check=False)
    published = [f"--publish=127.0.0.1:{ports[kind]}:{PORTS[kind]}" for kind in SERVER_KINDS]
    podman("run", "--detach", "--name", name, *published, images.default.image)  # CMD serve, zeroconf on
    try:
        with logged([name]):
            infos = await described({kind: f"tcp://127.0.0.1:{port}" for kind, port in ports.items()})
            assert all(infos[kind].get(SERVES[kind]) for kind in SERVER_KINDS), infos
            assert health(name) == "healthy"
            assert json.loads(podman("inspect", name).stdout)[0]["State"]["Running"]
            assert "Traceback" not in logs([name])
    finally:
        podman("rm", "--force", "--time", "30", name, check=False, timeout=60)


def compose(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """podman-compose on docker/compose.yaml as this test's project."""
    return subprocess.run([str(PODMAN_COMPOSE), "-p", PROJECT, "-f", str(COMPOSE), *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def project_containers() -> dict[str, str]:
    """Service name → container name, for this test's compose project."""
    listed = json.loads(podman("ps", "--all", "--filter", f"label=io.podman.compose.project={PROJECT}",
                               "--format", "json").stdout or "[]")
    return {item["Labels"]["com.docker.compose.service"]: item["Names"][0] for item in listed}


async def test_compose_stack_is_healthy_and_answers_a_voice_turn(images, tmp_path):
    ports = {kind: free_port() for kind in SERVER_KINDS}
    env = {**PODMAN_ENV, "NEXUS_PYTHON_IMAGE": images.base.image, "NEXUS_REDIS_IMAGE": images.redis.image,
           **{f"NEXUS_{kind.upper()}_PORT": f"127.0.0.1:{port}" for kind, port in ports.items()}}
    uris = {kind: f"tcp://127.0.0.1:{port}" for kind, port in ports.items()}
    compose("down", "--volumes", env=env)  # what a killed run left
    try:
        up = compose("up", "--detach", env=env)
        with logged(list(project_containers().values())):
            assert up.returncode == 0, up.stdout + up.stderr
            containers = project_containers()
            assert set(containers) == {*SERVER_KINDS, "redis"}, containers
            await described(uris)
            assert {service: health(name) for service, name in containers.items()} == dict.fromkeys(containers, "healthy")
            for kind in SERVER_KINDS:  # the image's own check describes only the server its container runs
                check = podman("exec", containers[kind], "python3", "/opt/nexus/healthcheck.py", timeout=60)
                assert check.stdout.strip() == f"healthy: {kind} tcp://127.0.0.1:{PORTS[kind]}", check.stdout
            speech, reply = tmp_path / "question.wav", tmp_path / "reply.wav"
            spoken = client("synthesize", uris["tts"], "What time is it?", "-o", str(speech))
            assert spoken.returncode == 0, spoken.stderr
            turn = client("pipeline", "--stt", uris["stt"], "--intent", uris["intent"], "--tts", uris["tts"],
                          str(speech), "-o", str(reply), "--device-id", "container-test", "--fast", "--json")
            assert turn.returncode == 0, turn.stderr
            data = json.loads(turn.stdout)
            assert "time" in data["transcript"].lower() and any(ch.isdigit() for ch in data["reply"]), data
            with wave.open(str(reply)) as wav:
                assert wav.getnframes() / wav.getframerate() > 0.5
    finally:
        down = compose("down", "--volumes", env=env)
        leftovers = project_containers()
        if leftovers:
            podman("rm", "--force", *leftovers.values(), check=False)
        assert down.returncode == 0 and not leftovers, down.stdout + down.stderr
