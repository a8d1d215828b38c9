"""The provider chain: transparent fallback before any text, a clear error after, cool-downs."""

import asyncio
import time

import pytest

from nexus_wyoming.intent.llm import ChatMessage, LlmError, LlmRequest
from nexus_wyoming.intent.providers.fallback import FallbackProvider
from nexus_wyoming.intent.providers.openai import OpenAiCompatProvider
from nexus_wyoming.intent.spoken import first_piece_ready
from tests.fakes.openai_sse import FakeOpenAi

MODELS = {"groq": "llama-3.3-70b-versatile", "gemini": "gemini-2.5-flash", "local": "llama3.2"}
REQUEST = LlmRequest((ChatMessage("user", "Hi?"),), max_tokens=50, models=MODELS)


def chain(*fakes: FakeOpenAi, first_token_timeout_s: float = 0.5, cooldown_s: float = 30.0,
          **options) -> FallbackProvider:
    names = ["groq", "gemini", "local"]
    providers = [OpenAiCompatProvider(names[i], fake.url, fake.api_key, stream_timeout_s=5.0)
                 for i, fake in enumerate(fakes)]
    return FallbackProvider(providers, first_token_timeout_s, last_token_timeout_s=5.0, cooldown_s=cooldown_s,
                            **options)


async def answer(provider: FallbackProvider) -> tuple[str, set[str], int]:
    chunks = [chunk async for chunk in provider.stream(REQUEST)]
    return "".join(c.text for c in chunks), {c.provider for c in chunks}, max(c.fallbacks for c in chunks)


@pytest.mark.parametrize("broken", [
    {"fail_status": 500}, {"fail_status": 429, "retry_after": "2"}, {"api_key": "other"},
    {"ttft_s": 3.0}, {"disconnect_after_tokens": 0}, {"error_after_tokens": 0}, {"no_done": True, "reply": ""},
    {"silent": True},
])
async def test_failure_before_text_moves_to_the_next_provider(broken):
    async with FakeOpenAi(**broken) as first, FakeOpenAi(reply="From the second.") as second:
        provider = chain(first, second)
        if "api_key" in broken:
            provider.providers[0] = OpenAiCompatProvider("groq", first.url, "wrong-key")
        text, names, fallbacks = await answer(provider)
        await provider.close()
    assert text == "From the second." and names == {"gemini"} and fallbacks == 1


async def test_failure_after_text_is_an_error_marked_after_text():
    async with FakeOpenAi(reply="one two three", disconnect_after_tokens=2) as first, FakeOpenAi() as second:
        provider = chain(first, second)
        received = []
        with pytest.raises(LlmError) as caught:
            async for chunk in provider.stream(REQUEST):
                received.append(chunk.text)
        await provider.close()
    assert caught.value.after_text and "".join(received) == "one two"
    assert not second.requests


async def test_all_failing_is_one_error_with_the_count():
    async with FakeOpenAi(fail_status=500) as first, FakeOpenAi(fail_status=503) as second:
        provider = chain(first, second)
        with pytest.raises(LlmError, match="no LLM provider answered") as caught:
            await answer(provider)
        await provider.close()
    assert not caught.value.after_text and caught.value.fallbacks == 1


async def test_a_failed_provider_cools_down_for_its_retry_after():
    async with FakeOpenAi(fail_status=429, retry_after="0.3") as first, FakeOpenAi() as second:
        provider = chain(first, second)
        await answer(provider)
        await answer(provider)
        assert len(first.requests) == 1 and len(second.requests) == 2  # skipped while cooling
        await asyncio.sleep(0.35)
        first.fail_status = None
        _, names, _ = await answer(provider)
        await provider.close()
    assert names == {"groq"} and len(first.requests) == 2


async def test_a_cooling_provider_is_still_tried_when_nothing_else_is_left():
    async with FakeOpenAi(fail_status=500) as only:
        provider = chain(only)
        with pytest.raises(LlmError):
            await answer(provider)
        only.fail_status = None
        text, _, _ = await answer(provider)
        await provider.close()
    assert text == only.reply


async def test_providers_without_a_model_for_the_mode_are_skipped():
    async with FakeOpenAi() as first, FakeOpenAi(reply="local answer") as second:
        provider = chain(first, second)
        request = LlmRequest(REQUEST.messages, 10, models={"gemini": "g"})
        chunks = [c async for c in provider.stream(request)]
        assert not provider.available_for(LlmRequest(REQUEST.messages, 10, models={}))
        await provider.close()
    assert "".join(c.text for c in chunks) == "local answer" and not first.requests


async def test_first_token_timeout_counts_from_the_request_not_per_keepalive():
    async with FakeOpenAi(ttft_s=2.0, keepalive_s=0.05) as slow, FakeOpenAi() as second:
        provider = chain(slow, second, first_token_timeout_s=0.3)
        started = time.perf_counter()
        _, names, _ = await answer(provider)
        elapsed = time.perf_counter() - started
        await asyncio.wait_for(slow.cancelled.wait(), 5)  # the slow request was hung up on
        await provider.close()
    assert names == {"gemini"} and elapsed < 1.5


HELD = "Well then, here is a long first sentence before anything is spoken."


@pytest.mark.parametrize("broken", [{"disconnect_after_tokens": 4}, {"error_after_tokens": 4},
                                    {"stall_after_tokens": 4}, {"tokens": []}],
                         ids=["break", "error event", "stall", "complete but empty"])
async def test_text_held_until_a_first_piece_is_ready_is_dropped_when_the_provider_fails(broken):
    async with FakeOpenAi(reply=HELD, **broken) as first, FakeOpenAi(reply="From the second.") as second:
        provider = chain(first, second, ready=first_piece_ready, token_stall_timeout_s=0.3)
        text, names, fallbacks = await answer(provider)
        await provider.close()
    assert text == "From the second." and names == {"gemini"} and fallbacks == 1


async def test_once_a_first_piece_is_released_a_stall_is_an_error_after_text_within_the_stall_budget():
    async with FakeOpenAi(reply="Yes. And then more words", stall_after_tokens=3) as first, FakeOpenAi() as second:
        provider = chain(first, second, ready=first_piece_ready, token_stall_timeout_s=0.3)
        received = []
        started = time.perf_counter()
        with pytest.raises(LlmError) as caught:
            async for chunk in provider.stream(REQUEST):
                received.append(chunk.text)
        elapsed = time.perf_counter() - started
        await provider.close()
    assert caught.value.after_text and "".join(received) == "Yes. And then" and elapsed < 1.0
    assert not second.requests


async def test_held_chunks_keep_their_arrival_time():
    async with FakeOpenAi(reply=HELD, tokens_per_s=50) as only:
        provider = chain(only, ready=first_piece_ready)
        chunks = [c async for c in provider.stream(REQUEST)]
        await provider.close()
    texts = [c for c in chunks if c.text]
    assert texts[9].at - texts[0].at > 0.1  # 9 × 20 ms apart, though all held (released at the 60th character)
