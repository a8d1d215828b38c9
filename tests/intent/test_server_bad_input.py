"""Bad input against a real intent process: each class gets a spoken refusal, an `error`
event or a clean close; the process stays up and other clients are served meanwhile."""

import asyncio
import json

import psutil
import pytest
from wyoming.asr import Transcript
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe

from nexus_wyoming.intent.assistant import DIDNT_CATCH, TOO_LONG
from tests.fakes.openai_sse import FakeOpenAi
from tests.intent.server_support import ask_like_home_assistant, ask_streaming, fake_env, start_intent
from tests.support.client import WyomingClient


async def assert_still_serving(server) -> None:
    assert server.alive
    answer = await ask_like_home_assistant(server, "what is 2 plus 2")
    assert answer.type == "handled" and answer.data["text"] == "2 plus 2 is 4."


@pytest.fixture
async def served(tmp_path):
    """A server whose LLM answers slowly enough to be interrupted."""
    async with FakeOpenAi(reply="One. Two. Three. Four. Five. Six. Seven. Eight.", tokens_per_s=8) as groq:
        server = await start_intent(tmp_path, fake_env(groq))
        try:
            yield server, groq
        finally:
            server.stop()


@pytest.mark.parametrize("text, spoken", [("", DIDNT_CATCH), ("   \n\t ", DIDNT_CATCH), ("\x00\x01\u200b", DIDNT_CATCH),
                                          ("why " * 25_000, TOO_LONG)])
async def test_empty_and_100kb_texts_get_a_spoken_refusal(served, text, spoken):
    server, groq = served
    answer = await ask_like_home_assistant(server, text)
    assert answer.type == "not-handled" and answer.data["text"] == spoken
    assert not groq.requests
    await assert_still_serving(server)


@pytest.mark.parametrize("data, code", [
    ({"text": 42}, "bad-text"), ({"text": None}, "bad-text"), ({"text": {"a": 1}}, "bad-text"), ({}, "bad-text"),
    ({"text": "hi", "context": {"mode": "turbo"}}, "unknown-mode"),
    ({"text": "hi", "context": {"mode": ["faster"]}}, "unknown-mode"),
])
async def test_malformed_transcripts_get_an_error_and_the_connection_stays_usable(served, data, code):
    server, _ = served
    client = await WyomingClient.connect(server.host, server.port)
    await client.send(Event("transcript", data))
    error = Error.from_event(await client.read(timeout=10))
    assert error.code == code
    await client.send(Describe().event())
    assert (await client.read(timeout=10)).type == "info"
    await client.close()
    await assert_still_serving(server)


@pytest.mark.parametrize("context", [
    "a string", [1, 2, 3], None, 12,
    {"conversation_id": {"$ne": None}, "device_id": ["x"], "satellite_id": "x" * 100_000},
    {"conversation_id": "id\n\x00", "device_id": "'; DROP TABLE sessions; --", "nested": {"a": [{"b": [1] * 1000}]}},
])
async def test_hostile_context_objects_are_answered_safely(served, context):
    server, _ = served
    client = await WyomingClient.connect(server.host, server.port)
    await client.send(Event("transcript", {"text": "what is 6 times 7", "context": context}))
    event = await client.read(timeout=10)
    await client.close()
    assert event.type == "handled" and event.data["text"] == "6 times 7 is 42."
    conversation_id = event.data["context"]["conversation_id"]
    assert isinstance(conversation_id, str) and conversation_id.isprintable() and len(conversation_id) <= 128
    await assert_still_serving(server)


async def test_client_disconnect_mid_stream_cancels_the_provider_request(served):
    server, groq = served
    client = await WyomingClient.connect(server.host, server.port)
    await client.send(Transcript("Count to eight", context={"conversation_id": "gone"}).event())
    await client.read_until("handled-chunk", timeout=20)
    await client.close()
    await asyncio.wait_for(groq.cancelled.wait(), 10)  # the server hung up on the provider
    assert server.wait_for_log(r'"client_gone": true')
    assert groq.completed == 0
    process = psutil.Process(server.pid)
    await asyncio.sleep(0.5)
    before = sum(process.cpu_times()[:2])
    await asyncio.sleep(1.5)
    assert sum(process.cpu_times()[:2]) - before < 0.3, "work went on for a client that left"
    await assert_still_serving(server)
    assert "Traceback" not in server.log


async def test_client_gone_while_waiting_for_the_first_token(tmp_path):
    async with FakeOpenAi(ttft_s=30, keepalive_s=0.1) as groq:
        server = await start_intent(tmp_path, fake_env(groq, NEXUS_INTENT__STREAM_TIMEOUT_S="60"))
        try:
            client = await WyomingClient.connect(server.host, server.port)
            await client.send(Transcript("Think hard", context={"conversation_id": "x"}).event())
            await asyncio.sleep(0.5)
            await client.close()
            await asyncio.wait_for(groq.cancelled.wait(), 10)
            await assert_still_serving(server)
        finally:
            server.stop()


async def test_a_slow_turn_does_not_hold_up_other_clients(served):
    server, groq = served
    slow = asyncio.create_task(ask_streaming(server, "Count to eight"))
    await asyncio.sleep(0.3)
    await assert_still_serving(server)
    assert not slow.done()  # answered while the slow reply (about 2 s) is still streaming
    reply = await slow
    assert reply.first("handled").data["text"].startswith("One. Two.")


async def test_two_transcripts_on_one_connection_are_answered_in_order(served):
    server, _ = served
    client = await WyomingClient.connect(server.host, server.port)
    for text in ("what is 1 plus 1", "what is 2 plus 2"):
        await client.send(Transcript(text, context={"conversation_id": "x"}).event())
    first = await client.read(timeout=10)
    second = await client.read(timeout=10)
    await client.close()
    assert [first.data["text"], second.data["text"]] == ["1 plus 1 is 2.", "2 plus 2 is 4."]


async def test_garbage_header_gets_error_and_close(served):
    server, _ = served
    client = await WyomingClient.connect(server.host, server.port)
    await client.send_raw(b'{"type": "transcript", "data_length": -3}\n')
    event = await client.read(timeout=10)
    assert event.type == "error" and await client.closed()
    client = await WyomingClient.connect(server.host, server.port)
    await client.send_raw(json.dumps({"type": "transcript", "data": {"text": "x" * 10}}).encode()[:-2] + b"\n")
    event = await client.read(timeout=10)
    assert event.type == "error" and await client.closed()
    await assert_still_serving(server)
