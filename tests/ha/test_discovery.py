"""Discovery: with `zeroconf:` in HA's configuration, each of our servers advertising
`_wyoming._tcp.local.` (bound to 0.0.0.0, and separately to 127.0.0.1) appears as a Wyoming
flow within 15 s, and confirming it creates a working entry.

A loopback server beside a LAN server is found too: each set of addresses is advertised under
its own host name (HA's zeroconf cache merges the address records of one host name, and once
joined the LAN address to a loopback-only server's records, so its flow aborted)."""

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator, Optional

import pytest

from tests.ha.conftest import server_args
from tests.ha.flows import DOMAINS, wait_for_entity
from tests.intent.server_support import NO_KEYS
from tests.support.processes import ServerProcess

KINDS = ("stt", "intent", "tts")
BINDS = ("127.0.0.1", "0.0.0.0")
FOUND_WITHIN_S = 15.0


@dataclass
class Advertised:
    """A server with zeroconf on (the default), under a name unique to this run, and when HA found it."""

    kind: str
    bind: str
    server: ServerProcess
    name: str
    listening_at: float = 0.0
    flow: Optional[dict] = None
    found_after_s: Optional[float] = None


def advertised(kind: str, bind: str, data_dir, tag: str = "") -> Advertised:
    """`tag` keeps the name apart from an earlier test's (HA already has an entry for that one)."""
    name = f"nexus-ha-{kind}{tag}-{bind.replace('.', '-')}-{os.getpid()}"
    args = [arg for arg in server_args(kind, data_dir, "--zeroconf-name", name) if arg != "--no-zeroconf"]
    args[args.index("--uri") + 1] = f"tcp://{bind}:0"
    return Advertised(kind, bind, ServerProcess(args, env=dict(NO_KEYS)), name)


def start(one: Advertised) -> None:
    one.server.start()
    one.listening_at = time.monotonic()


def discovered(home_assistant, waiting: list[Advertised]) -> None:
    """Fill in the flow of each server HA has discovered by now."""
    for flow in home_assistant.command("config_entries/flow/progress"):
        for one in waiting:
            if flow["handler"] == "wyoming" and flow["context"].get("unique_id", "").startswith(f"{one.name}._wyoming."):
                one.flow, one.found_after_s = flow, time.monotonic() - one.listening_at


@pytest.fixture(scope="module", params=BINDS)
def advertising(request, home_assistant, tmp_path_factory) -> Iterator[dict[str, Advertised]]:
    """Our three servers bound to one address, started at once; HA's flows for them polled until
    found or 15 s after listening. Loopback first: see the module docstring."""
    bind = request.param
    data = tmp_path_factory.mktemp("discovery")
    servers = {kind: advertised(kind, bind, data / kind) for kind in KINDS}
    try:
        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(start, servers.values()))
        while True:
            waiting = [one for one in servers.values() if one.flow is None]
            if not waiting or all(time.monotonic() - one.listening_at > FOUND_WITHIN_S + 5 for one in waiting):
                break
            discovered(home_assistant, waiting)
            time.sleep(0.2)
        yield servers
    finally:
        for one in servers.values():
            one.server.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_discovered_and_confirmed(home_assistant, advertising, kind):
    one = advertising[kind]
    assert one.flow is not None, f"{one.name} not discovered:\n{one.server.log[-2000:]}"
    assert one.found_after_s <= FOUND_WITHIN_S, f"{one.name} discovered only after {one.found_after_s:.1f} s"
    flow = one.flow
    assert flow["context"]["source"] == "zeroconf" and flow["step_id"] == "zeroconf_confirm", flow

    done = home_assistant.rest("POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {})
    done.raise_for_status()
    result = done.json()
    assert result["type"] == "create_entry", result
    assert result["title"] == f"nexus-{kind}"
    entry_id = result["result"]["entry_id"]
    entity_id = wait_for_entity(home_assistant, entry_id, DOMAINS[kind])
    entry = next(e for e in home_assistant.rest("GET", "/api/config/config_entries/entry").json()
                 if e["entry_id"] == entry_id)
    assert entry["state"] == "loaded", entry
    assert home_assistant.rest("GET", f"/api/states/{entity_id}").json()["state"] != "unavailable"


def test_a_loopback_server_beside_a_lan_server_is_discovered(home_assistant, tmp_path):
    lan, loopback = (advertised("intent", bind, tmp_path / bind, "-beside") for bind in ("0.0.0.0", "127.0.0.1"))
    try:
        start(lan)  # its host record (the LAN address) is in HA's cache first
        while lan.flow is None and time.monotonic() - lan.listening_at < FOUND_WITHIN_S:
            discovered(home_assistant, [lan])
            time.sleep(0.2)
        assert lan.flow is not None
        start(loopback)
        while loopback.flow is None and time.monotonic() - loopback.listening_at < FOUND_WITHIN_S:
            discovered(home_assistant, [loopback])
            time.sleep(0.2)
        assert loopback.flow is not None, "the loopback server's flow aborted: HA connected to the LAN address"
    finally:
        lan.server.stop()
        loopback.server.stop()
