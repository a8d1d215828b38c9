"""One real Home Assistant and one set of our servers for all of tests/ha (HA installs once per
version into ~/.cache/nexus-wyoming; see tests/support/homeassistant.py)."""

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pytest

from tests.ha.assist import create_pipeline_sync
from tests.ha.flows import add_wyoming, entities_of
from tests.ha.lights import put_in_kitchen
from tests.ha.websocket import HaSocket
from tests.intent.server_support import NO_KEYS
from tests.satellite.ha_client import Ha
from tests.satellite.speech import silence, spoken, write_wav
from tests.stt.speech import Speaker
from tests.support.homeassistant import HomeAssistant
from tests.support.processes import ServerProcess

_RUNNING: list[HomeAssistant] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test in tests/ha shows the tail of HA's log."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _RUNNING and "tests/ha/" in str(item.path).replace(os.sep, "/"):
        report.sections.append(("home-assistant.log (tail)", _RUNNING[0].log_tail(60)))


@pytest.fixture(scope="session")
def home_assistant(tmp_path_factory) -> Iterator[HomeAssistant]:
    ha = HomeAssistant(tmp_path_factory.mktemp("ha-config")).start()
    _RUNNING.append(ha)
    put_in_kitchen(ha)
    yield ha
    _RUNNING.remove(ha)
    ha.stop()


@pytest.fixture
async def ws(home_assistant) -> HaSocket:
    socket = await HaSocket.open(home_assistant.ws_url, home_assistant.token)
    yield socket
    await socket.close()


def server_args(kind: str, data_dir, *extra: str) -> list[str]:
    return [kind, "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", str(data_dir), *extra]


@dataclass
class Nexus:
    """Our three servers and the entities HA made of them."""

    stt: ServerProcess
    intent: ServerProcess
    tts: ServerProcess
    flows: dict[str, dict]
    entities: dict[str, str]


@pytest.fixture(scope="session")
def nexus(home_assistant, tmp_path_factory) -> Iterator[Nexus]:
    """stt, intent and tts processes, each added to HA by the Wyoming config flow."""
    data = tmp_path_factory.mktemp("nexus-data")
    servers = {kind: ServerProcess(server_args(kind, data / kind), env=dict(NO_KEYS)) for kind in ("stt", "intent", "tts")}
    try:
        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(lambda server: server.start(), servers.values()))
        flows, entities = {}, {}
        for kind, server in servers.items():
            flows[kind], entities[kind] = add_wyoming(home_assistant, server.host, server.port, kind)
        yield Nexus(servers["stt"], servers["intent"], servers["tts"], flows, entities)
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="session")
def speaker(tmp_path_factory) -> Speaker:
    return Speaker(tmp_path_factory.mktemp("ha-speech"))


@dataclass
class Satellite:
    """`nexus-satellite ha` (paced WAV mic, WAV speaker) added to HA, with our pipeline selected."""

    device: Ha
    entity: str
    entry_id: str
    added: float
    last_active: float


@pytest.fixture(scope="session")
def satellite(home_assistant, nexus, tmp_path_factory) -> Iterator[Satellite]:
    tmp = tmp_path_factory.mktemp("satellite")
    question = write_wav(tmp / "question.wav", np.concatenate([silence(0.3), spoken("How are you?"), silence(0.3)]))
    device = Ha(tmp, question)  # every speech starts a turn (no wake word)
    try:
        flow, entity = add_wyoming(home_assistant, device.proc.host, device.proc.port, "satellite")
        entry_id = flow["result"]["entry_id"]
        create_pipeline_sync(home_assistant, SATELLITE_PIPELINE, nexus.entities["stt"], nexus.entities["intent"],
                             nexus.entities["tts"])
        select = next(e for e in entities_of(home_assistant, entry_id) if e.startswith("select.")
                      and SATELLITE_PIPELINE in home_assistant.rest("GET", f"/api/states/{e}").json()
                      ["attributes"].get("options", []))
        home_assistant.rest("POST", "/api/services/select/select_option",
                            {"entity_id": select, "option": SATELLITE_PIPELINE}).raise_for_status()
        now = time.monotonic()
        yield Satellite(device, entity, entry_id, now, now)
    finally:
        device.proc.stop()


SATELLITE_PIPELINE = "Nexus satellite"


def pytest_collection_modifyitems(items):
    """Within tests/ha (in its own slots): satellite turns first, the 60 s idle check last, so the
    other tests run during that idle minute."""
    slots = [i for i, item in enumerate(items) if "tests/ha/" in str(item.path).replace(os.sep, "/")]
    ours = [items[i] for i in slots]
    order = {"test_satellite.py": 0, "test_satellite_idle.py": 2}
    ours.sort(key=lambda item: order.get(item.path.name, 1))  # stable: file order kept otherwise
    for slot, item in zip(slots, ours):
        items[slot] = item
