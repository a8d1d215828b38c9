"""Memory per conversation through the real intent server over TCP: keyed by Home Assistant's
conversation_id when it sends one, by device otherwise; hostile ids are never keys."""

from typing import Optional

from wyoming.asr import Transcript
from wyoming.event import Event

from tests.fakes.openai_sse import FakeOpenAi
from tests.intent.server_support import ask_like_home_assistant, fake_env, start_intent
from tests.support.client import WyomingClient

#: No response cache: every question reaches the fake, so its requests show what the model remembered.
NO_CACHE = {"NEXUS_SESSIONS__RESPONSE_CACHE_TTL_S": "0"}


async def ask(server, text: str, context: Optional[dict] = None) -> Event:
    """One transcript with exactly this context (None: no context at all); the final handled/not-handled."""
    client = await WyomingClient.connect(server.host, server.port)
    try:
        await client.send(Transcript(text, context=context).event())
        while True:
            event = await client.read(timeout=30)
            assert event is not None, "connection lost before handled"
            if event.type in ("handled", "not-handled", "error"):
                return event
    finally:
        await client.close()


def asked(groq: FakeOpenAi, index: int) -> list[str]:
    """The user and assistant turns the index-th LLM request carried (history, then the question)."""
    return [m["content"] for m in groq.bodies[index]["messages"][1:]]


async def test_home_assistant_2025_4_conversation_has_memory_and_a_new_conversation_starts_fresh(tmp_path):
    async with FakeOpenAi(reply="Nice to meet you.") as groq:
        server = await start_intent(tmp_path, fake_env(groq, **NO_CACHE))
        try:
            await ask_like_home_assistant(server, "My name is Ada.", "01JTYPEDCHAT0000000000000A")
            again = await ask_like_home_assistant(server, "What is my name?", "01JTYPEDCHAT0000000000000A")
            fresh = await ask_like_home_assistant(server, "What is my name?", "01JTYPEDCHAT0000000000000B")
            assert server.alive and "Traceback" not in server.log
        finally:
            server.stop()
    assert again.data["context"] == {"conversation_id": "01JTYPEDCHAT0000000000000A"}
    assert fresh.data["context"] == {"conversation_id": "01JTYPEDCHAT0000000000000B"}
    assert asked(groq, 1) == ["My name is Ada.", "Nice to meet you.", "What is my name?"]
    assert asked(groq, 2) == ["What is my name?"]


async def test_a_satellite_continues_its_conversation_and_new_conversation_in_ha_resets_it(tmp_path):
    satellite = {"device_id": "4f1c0de", "satellite_id": "assist_satellite.kitchen"}
    async with FakeOpenAi(reply="Noted.") as groq:
        server = await start_intent(tmp_path, fake_env(groq, **NO_CACHE))
        try:
            await ask(server, "My name is Ada.", {**satellite, "conversation_id": "01HAONE"})
            await ask(server, "What is my name?", {**satellite, "conversation_id": "01HAONE"})
            await ask(server, "What is my name?", {**satellite, "conversation_id": "01HATWO"})
            await ask(server, "And again?", {**satellite, "conversation_id": "01HATWO"})
            other_room = await ask(server, "What is my name?", {"device_id": "hall", "conversation_id": "01HAONE"})
        finally:
            server.stop()
    assert asked(groq, 1) == ["My name is Ada.", "Noted.", "What is my name?"]
    assert asked(groq, 2) == ["What is my name?"]  # HA's new conversation: no memory of Ada
    assert asked(groq, 3) == ["What is my name?", "Noted.", "And again?"]
    assert asked(groq, 4) == ["What is my name?"] and other_room.type == "handled"  # the device is the key


async def test_a_device_without_conversation_ids_keeps_memory_through_the_id_it_is_given(tmp_path):
    async with FakeOpenAi(reply="Noted.") as groq:
        server = await start_intent(tmp_path, fake_env(groq, **NO_CACHE))
        try:
            first = await ask(server, "My name is Ada.", {"nexus_device_id": "pi-kitchen"})
            given = first.data["context"]["conversation_id"]
            await ask(server, "What is my name?", {"nexus_device_id": "pi-kitchen", "conversation_id": given})
            await ask(server, "Who am I?", {"nexus_device_id": "pi-kitchen"})  # e.g. after the satellite restarted
            nothing = await ask(server, "My name is Bob.", None)
            await ask(server, "What is my name?", {"conversation_id": nothing.data["context"]["conversation_id"]})
        finally:
            server.stop()
    assert len(given) == 32 and given.isalnum()
    assert asked(groq, 1) == ["My name is Ada.", "Noted.", "What is my name?"]
    assert asked(groq, 2)[-3:] == ["What is my name?", "Noted.", "Who am I?"]
    assert asked(groq, 4) == ["My name is Bob.", "Noted.", "What is my name?"]


async def test_hostile_conversation_ids_are_refused_as_keys_and_the_server_keeps_serving(tmp_path):
    hostile = ["x" * 129, "x" * 100_000, "01HA\n\r\x00", "a b", "nexus:v1:*", "../../etc/passwd", "Küche",
               "'; DROP TABLE sessions; --", "\u202e01HA", 42, {"$ne": None}, ["01HA"]]
    async with FakeOpenAi(reply="Noted.") as groq:
        limits = {"NEXUS_INTENT__MAX_PAID_CALLS_PER_MINUTE_PER_PEER": "1000",
                  "NEXUS_INTENT__MAX_TURNS_PER_MINUTE_PER_PEER": "1000"}  # 26 turns from one address
        server = await start_intent(tmp_path, fake_env(groq, **NO_CACHE, **limits))
        try:
            replies = []
            for value in hostile:
                await ask(server, "Remember the code 1234.", {"conversation_id": value})
                replies.append(await ask(server, "What was the code?", {"conversation_id": value}))
            posing = await ask(server, "What was the code?", {"device_id": "conversation:01HA"})
            normal = await ask_like_home_assistant(server, "Hello there, who are you?", "01HAFINE")
            assert server.alive and "Traceback" not in server.log
        finally:
            server.stop()
    for reply in replies:
        conversation_id = reply.data["context"]["conversation_id"]
        assert reply.type == "handled" and len(conversation_id) == 32 and conversation_id.isalnum()
    # no hostile id became a key: every "What was the code?" was a first turn
    assert all(asked(groq, i) == ["What was the code?"] for i in range(1, 2 * len(hostile), 2))
    assert posing.type == "handled" and asked(groq, 2 * len(hostile)) == ["What was the code?"]
    assert normal.type == "handled" and normal.data["context"] == {"conversation_id": "01HAFINE"}
