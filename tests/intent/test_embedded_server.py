"""The intent server as a user starts it: `nexus-wyoming intent`, no flags, no keys, no
network. The embedded LLM is joined from its packages into the (XDG) data dir, loaded
before the port opens, and answers over real Wyoming TCP; it does not claim device
actions or invent live facts, stops generating when the client hangs up, and llama.cpp
adds no TCP listener to the process."""

import asyncio
import socket

import psutil
import pytest

from wyoming.asr import Transcript
from wyoming.handle import Handled

from nexus_wyoming.intent.offline_guard import NO_LIVE_FACTS
from tests.intent.server_support import NO_KEYS, ask_like_home_assistant, ask_streaming
from tests.support.client import WyomingClient
from tests.support.processes import ServerProcess

DEFAULT_PORT = 10600


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def default_server(tmp_path):
    assert not port_in_use(DEFAULT_PORT), f"port {DEFAULT_PORT} is in use: stop what listens there"
    # A user's environment: no keys, no model dir of the suite's (so the parts are joined afresh).
    # Only the first-sentence budget is widened: a machine busy with other tests may take
    # longer than the default 10 s, and this test is about the answer, not the budget.
    env = {**NO_KEYS, "XDG_DATA_HOME": str(tmp_path / "xdg"), "NEXUS_INTENT__EMBEDDED__MODEL_DIR": "",
           "NEXUS_INTENT__EMBEDDED__TURN_BUDGET_S": "60"}
    server = ServerProcess(["intent"], env=env)
    server.start(timeout=300)  # the first start joins 1.6 GB of model parts
    yield server
    server.stop()


async def test_no_flags_no_keys_who_wrote_hamlet_is_answered_by_the_embedded_model(default_server, tmp_path):
    server = default_server
    assert (server.host, server.port) == ("0.0.0.0", DEFAULT_PORT)
    server.host = "127.0.0.1"
    log = server.log
    assert log.index("embedded model qwen2.5-coder-1.5b loaded") < log.index("listening on tcp://"), log
    models = tmp_path / "xdg" / "nexus-wyoming" / "models"
    assert (models / "qwen2.5-coder-1.5b" / "qwen2.5-coder-1.5b.gguf").stat().st_size == 1_117_320_768

    hamlet = await ask_like_home_assistant(server, "Who wrote Hamlet?")
    assert hamlet.type == "handled", hamlet
    assert "shakespeare" in Handled.from_event(hamlet).text.lower()
    assert server.wait_for_log(r'route=llm .*provider=embedded|"route": "llm".*"provider": "embedded"'), server.log

    streamed = await ask_streaming(server, "What is the capital of France?", mode="faster")
    assert streamed.chunks and "paris" in streamed.first("handled").data["text"].lower()

    weather = await ask_like_home_assistant(server, "What's the weather like today?")
    assert Handled.from_event(weather).text == NO_LIVE_FACTS

    light = await ask_like_home_assistant(server, "Turn on the kitchen light.")
    text = light.data["text"].lower()
    assert "can't" in text or "cannot" in text, text
    assert "is on" not in text and "turned on the" not in text and "done" not in text, text

    # A client that hangs up mid-answer: llama.cpp stops (no CPU spent on the rest of the story).
    client = await WyomingClient.connect(server.host, server.port)
    story = Transcript("Tell me a long story about a dragon and a knight.", context={"mode": "detailed"})
    await client.send(story.event())
    while (event := await client.read(timeout=60)) is not None and event.type != "handled-chunk":
        pass
    assert event is not None, server.log
    await client.close()
    assert server.wait_for_log(r"client_gone", timeout=10), server.log
    process = psutil.Process(server.pid)
    await asyncio.sleep(1.0)  # the current token finishes, the slot is released
    before = sum(process.cpu_times()[:2])
    await asyncio.sleep(3.0)
    assert sum(process.cpu_times()[:2]) - before < 0.5, "the generation went on after the client left"

    listeners = [c.laddr for c in psutil.Process(server.pid).net_connections("tcp") if c.status == psutil.CONN_LISTEN]
    assert [a.port for a in listeners] == [DEFAULT_PORT], listeners  # llama.cpp's own server has no TCP port
    assert server.alive and "Traceback" not in server.log
