"""mDNS across a real non-loopback link: two network namespaces joined by a veth pair.

The servers run with no flags in one namespace (`serve`: default ports, bound to 0.0.0.0,
zeroconf on; that namespace has no default route), and the other namespace plays the LAN:
`client discover` browses and resolves them there, and `nexus-satellite run` without any
server URI finds them and takes a turn. CI runs as root, which `ip netns` needs.
"""

import json
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from tests.satellite.process import SatelliteProcess
from tests.satellite.speech import silence, spoken, write_wav
from tests.support.processes import ServerProcess

SERVER_ADDRESS = "10.231.7.1"
LAN_ADDRESS = "10.231.7.2"
DEFAULT_PORTS = {"asr": 10300, "handle": 10600, "tts": 10200}


@dataclass
class Link:
    """Two namespaces, `server` and `lan`, joined by one veth pair."""

    server: str
    lan: str

    def exec(self, namespace: str) -> list[str]:
        """Prefix that runs a command inside `namespace`."""
        return ["ip", "netns", "exec", namespace]


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture
def link() -> Iterator[Link]:
    tag = uuid.uuid4().hex[:6]
    link = Link(f"nx-srv-{tag}", f"nx-lan-{tag}")
    ip("netns", "add", link.server)
    ip("netns", "add", link.lan)
    try:
        ip("link", "add", f"nxs{tag}", "netns", link.server, "type", "veth", "peer", "name", f"nxl{tag}",
           "netns", link.lan)
        for namespace, device, address in ((link.server, f"nxs{tag}", SERVER_ADDRESS),
                                           (link.lan, f"nxl{tag}", LAN_ADDRESS)):
            ip("-n", namespace, "addr", "add", f"{address}/24", "dev", device)
            ip("-n", namespace, "link", "set", device, "up", "multicast", "on")
            ip("-n", namespace, "link", "set", "lo", "up")
        yield link
    finally:
        ip("netns", "delete", link.server)
        ip("netns", "delete", link.lan)


@pytest.fixture
def servers(link: Link, tmp_path: Path) -> Iterator[ServerProcess]:
    """`nexus-wyoming serve` with no flags, inside the server namespace."""
    serve = ServerProcess(["serve"], command=[*link.exec(link.server), sys.executable, "-m", "nexus_wyoming"],
                          wait_for_port=False, env={"XDG_DATA_HOME": str(tmp_path / "data"),
                                                    "GROQ_API_KEY": "", "GOOGLE_API_KEY": "", "TAVILY_API_KEY": ""})
    serve.start()
    try:
        for kind in ("stt", "intent", "tts"):
            assert serve.wait_for_log(rf"advertised nexus-{kind}-\S+ on {SERVER_ADDRESS}:", timeout=240), serve.log
        yield serve
    finally:
        serve.stop()


def test_servers_bound_to_every_interface_are_browsed_and_resolved_from_the_lan(link, servers):
    shown = subprocess.run([*link.exec(link.lan), sys.executable, "-m", "nexus_wyoming", "client", "discover",
                            "--json"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    found = json.loads(shown.stdout)
    for serves, port in DEFAULT_PORTS.items():
        match = [f for f in found if serves in f["serves"]]
        assert match, (serves, found)
        assert (match[0]["host"], match[0]["port"]) == (SERVER_ADDRESS, port), match


async def test_a_satellite_without_server_uris_finds_them_and_takes_a_turn(link, servers, tmp_path):
    question = write_wav(tmp_path / "question.wav", np.concatenate([silence(0.5), spoken("What is two plus two?"),
                                                                    silence(0.3)]))
    sat = SatelliteProcess(["run", "--mic-file", str(question), "--snd-file", str(tmp_path / "played.wav"),
                            "--max-turns", "1", "--data-dir", str(tmp_path / "sat"), "--no-wake-word"],
                           command=[*link.exec(link.lan), sys.executable, "-m", "satellite"], wait_for_port=False)
    sat.start()
    try:
        assert sat.proc.wait(timeout=180) == 0, sat.log
    finally:
        sat.stop()
    for role in ("stt", "intent", "tts"):
        assert f"found {role} server nexus-" in sat.log and f"tcp://{SERVER_ADDRESS}:" in sat.log, sat.log
    (turn,) = [json.loads(line[line.index("{"):]) for line in sat.lines if '"satellite-turn"' in line]
    assert turn["outcome"] == "played", sat.log
    assert "4" in turn["reply"] or "four" in turn["reply"].lower(), turn


def test_a_server_bound_to_loopback_is_heard_where_home_assistant_listens(link, tmp_path):
    """HA leaves loopback out of the interfaces it listens on: a 127.0.0.1 server must still be
    announced on the LAN interface, with the address an HA on the same host can connect to."""
    tts = ServerProcess(["tts", "--uri", "tcp://127.0.0.1:10200", "--data-dir", str(tmp_path / "tts")],
                        command=[*link.exec(link.server), sys.executable, "-m", "nexus_wyoming"])
    tts.start()
    try:
        assert tts.wait_for_log(r"advertised nexus-tts-\S+ on 127\.0\.0\.1:10200", timeout=30), tts.log
        shown = subprocess.run([*link.exec(link.server), sys.executable, "-m", "nexus_wyoming", "client", "discover",
                                "--interface", SERVER_ADDRESS, "--json"], capture_output=True, text=True, timeout=120)
        assert shown.returncode == 0, shown.stderr
        found = [f for f in json.loads(shown.stdout) if "tts" in f["serves"]]
        assert [(f["host"], f["port"]) for f in found] == [("127.0.0.1", 10200)], shown.stdout
    finally:
        tts.stop()
