"""The OpenAI-compatible streaming client against a local fake speaking the real SSE format."""

import asyncio

import pytest

from nexus_wyoming.intent.llm import ChatMessage, LlmError, LlmRequest
from nexus_wyoming.intent.providers.openai import OpenAiCompatProvider
from tests.fakes.openai_sse import FakeOpenAi

REQUEST = LlmRequest((ChatMessage("system", "Be brief."), ChatMessage("user", "Hi?")), max_tokens=50,
                     models={"groq": "llama-3.1-8b-instant"})


def provider_for(fake: FakeOpenAi, **kwargs) -> OpenAiCompatProvider:
    options = {"api_key": fake.api_key, "stream_timeout_s": 5.0, **kwargs}
    return OpenAiCompatProvider("groq", fake.url, **options)


async def collect(provider: OpenAiCompatProvider, request: LlmRequest = REQUEST):
    try:
        return [chunk async for chunk in provider.stream(request)]
    finally:
        await provider.close()


async def test_streams_text_and_usage_and_sends_the_documented_body():
    async with FakeOpenAi(reply="Hello there. How are you?") as fake:
        chunks = await collect(provider_for(fake))
    assert "".join(c.text for c in chunks) == "Hello there. How are you?"
    assert chunks[-1].completion_tokens == 5
    assert all(c.provider == "groq" for c in chunks)
    body = fake.bodies[0]
    assert body["model"] == "llama-3.1-8b-instant" and body["stream"] is True and body["max_tokens"] == 50
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    assert "reasoning_effort" not in body
    assert fake.requests[0].headers["authorization"] == "Bearer fake-llm-key"


async def test_groq_usage_and_crlf_and_reasoning_effort():
    async with FakeOpenAi(usage_style="groq", crlf=True, prefix="/v1beta/openai") as fake:
        chunks = await collect(provider_for(fake, reasoning_effort="none"))
    assert chunks[-1].completion_tokens == 7
    assert fake.bodies[0]["reasoning_effort"] == "none"


async def test_a_trailing_slash_base_url_and_no_key():
    async with FakeOpenAi(api_key=None, usage_style=None, prefix="/v1") as fake:
        provider = OpenAiCompatProvider("local", fake.url + "/", model="llama3.2")
        chunks = await collect(provider, LlmRequest(REQUEST.messages, 10))
    assert "".join(c.text for c in chunks) == fake.reply
    assert "authorization" not in fake.requests[0].headers
    assert fake.bodies[0]["model"] == "llama3.2"


async def test_malformed_lines_and_keepalives_are_skipped():
    async with FakeOpenAi(malformed=True, ttft_s=0.25, keepalive_s=0.05) as fake:
        chunks = await collect(provider_for(fake))
    assert "".join(c.text for c in chunks) == fake.reply


async def test_no_model_for_the_mode_is_unavailable():
    async with FakeOpenAi() as fake:
        provider = provider_for(fake)
        request = LlmRequest(REQUEST.messages, 10, models={"gemini": "x"})
        assert not provider.available_for(request)
        with pytest.raises(LlmError, match="no model"):
            await collect(provider, request)
    assert not fake.requests


@pytest.mark.parametrize("status, retry_after, expected", [(429, "7", 7.0), (500, None, None), (503, "soon", None)])
async def test_http_errors_carry_status_message_and_retry_after(status, retry_after, expected):
    async with FakeOpenAi(fail_status=status, retry_after=retry_after) as fake:
        with pytest.raises(LlmError) as caught:
            await collect(provider_for(fake))
    assert caught.value.status == status and caught.value.retry_after_s == expected
    assert "Please try again later." in str(caught.value)


async def test_wrong_key_is_an_error():
    async with FakeOpenAi() as fake:
        with pytest.raises(LlmError, match="401.*Invalid API Key"):
            await collect(provider_for(fake, api_key="wrong"))


async def test_disconnect_mid_stream_is_an_error_after_the_text_so_far():
    async with FakeOpenAi(reply="one two three four", disconnect_after_tokens=2) as fake:
        received = []
        with pytest.raises(LlmError):
            async for chunk in provider_for(fake).stream(REQUEST):
                received.append(chunk.text)
    assert "".join(received) == "one two"


async def test_error_event_mid_stream_is_an_error():
    async with FakeOpenAi(error_after_tokens=1) as fake:
        with pytest.raises(LlmError, match="error in stream"):
            await collect(provider_for(fake))


async def test_a_stream_ending_without_done_or_finish_is_an_error():
    async with FakeOpenAi(no_done=True) as fake:
        with pytest.raises(LlmError, match="ended before"):
            await collect(provider_for(fake))


async def test_connection_refused_is_an_error():
    async with FakeOpenAi() as fake:
        url = fake.url
    with pytest.raises(LlmError, match="ConnectError"):
        await collect(OpenAiCompatProvider("groq", url, "k", connect_timeout_s=1.0))


async def test_closing_the_stream_early_hangs_up_on_the_provider():
    async with FakeOpenAi(reply="a b c d e f g h", tokens_per_s=20) as fake:
        provider = provider_for(fake)
        stream = provider.stream(REQUEST)
        first = await anext(stream)
        assert first.text == "a"
        await stream.aclose()
        await asyncio.wait_for(fake.cancelled.wait(), 5)
        await provider.close()
    assert fake.completed == 0


async def test_prepare_opens_the_connection_the_request_then_uses_and_never_raises():
    from tests.support.services import free_port

    async with FakeOpenAi(reply="Hi.") as fake:
        provider = provider_for(fake)
        await provider.prepare(LlmRequest((), 10, {}))  # no model for it: no request is coming, nothing sent
        assert fake.requests == []
        await provider.prepare(REQUEST)
        chunks = await collect(provider)
    assert "".join(c.text for c in chunks) == "Hi."
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/openai/v1/models"),
                                                           ("POST", "/openai/v1/chat/completions")]
    assert fake.requests[0].client_port == fake.requests[1].client_port
    nobody = OpenAiCompatProvider("groq", f"http://127.0.0.1:{free_port()}/v1", connect_timeout_s=0.5)
    try:
        await nobody.prepare(REQUEST)  # nothing listens: the request will find out itself
    finally:
        await nobody.close()
