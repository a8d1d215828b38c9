"""DeepgramEngine against a local fake speaking Deepgram's live `/v1/listen` WebSocket protocol."""

import asyncio
import socket
import time
from email.utils import formatdate
from dataclasses import replace
from typing import Optional

import pytest

from nexus_wyoming.config import DeepgramSttSettings
from nexus_wyoming.stt.engine import SttError, SttRequest
from nexus_wyoming.stt.engines.deepgram import DeepgramEngine, _parse_results, bias_terms
from tests.fakes.deepgram_listen import FakeDeepgramListen, silence, speech

KEY = "dg_secret_key_0123456789"
WORDS = ["turn", "on", "the", "kitchen", "light"]
CHUNK = 3200  # 100 ms


def engine_for(fake: FakeDeepgramListen, api_key: str = KEY, **settings) -> DeepgramEngine:
    return DeepgramEngine(replace(DeepgramSttSettings(), url=fake.url, **settings), api_key)


def fake_for(**switches) -> FakeDeepgramListen:
    return FakeDeepgramListen(api_key=KEY, **switches)


async def stream(session, audio: bytes, chunk: int = CHUNK) -> None:
    for start in range(0, len(audio), chunk):
        await session.feed(audio[start:start + chunk])


def assert_clean(error: BaseException) -> None:
    """Errors reach logs and clients: never the key."""
    assert KEY not in str(error) and KEY not in repr(error.args)


async def test_partials_grow_and_the_final_text_has_every_word():
    partials: list[str] = []
    async with fake_for() as fake:
        engine = engine_for(fake)
        session = await engine.open(SttRequest(), partials.append)
        await stream(session, speech(1.0))
        text = await session.transcribe()
        await session.close()
    assert text == "turn on the kitchen light"
    assert len(partials) >= 3, "interim results should arrive while audio streams"
    assert all(later.startswith(earlier) for earlier, later in zip(partials, partials[1:]))
    assert partials[-1] == text
    interim = [m for m in fake.streams[0].sent if m["type"] == "Results" and not m["is_final"]]
    assert interim, "the partials come from interim results"


async def test_sends_the_documented_url_parameters_and_token_header():
    names = ["Kitchen Light", "  porch ", "kitchen light", "Porch"]
    async with fake_for() as fake:
        session = await engine_for(fake).open(SttRequest(language="en_US", names=names))
        await session.close()
    (handshake,) = fake.handshakes
    assert handshake.path == "/v1/listen"
    assert handshake.headers["authorization"] == f"Token {KEY}"
    assert handshake.query == [
        ("model", "nova-3"), ("encoding", "linear16"), ("sample_rate", "16000"), ("channels", "1"),
        ("language", "en-US"), ("interim_results", "true"), ("endpointing", "500"),
        ("smart_format", "true"), ("punctuate", "true"),
        ("keyterm", "Kitchen Light"), ("keyterm", "porch"),
    ]


async def test_older_models_get_single_word_keywords_and_switches_are_honoured():
    partials: list[str] = []
    async with fake_for() as fake:
        engine = engine_for(fake, model="nova-2", language="de", endpointing_ms=0, interim_results=False,
                            smart_format=False, max_terms=2)
        session = await engine.open(SttRequest(names=["Living room", "Lamp"]), partials.append)
        await stream(session, speech(0.6))
        assert partials == [], "no interim results were asked for"
        assert await session.transcribe() == "turn on the"
        await session.close()
    query = fake.handshakes[0].query
    assert ("keywords", "Living") in query and ("keywords", "room") in query
    assert not any(key == "keyterm" for key, _ in query)
    assert dict(query) | {"keywords": None} == {
        "model": "nova-2", "encoding": "linear16", "sample_rate": "16000", "channels": "1", "language": "de",
        "interim_results": "false", "endpointing": "false", "smart_format": "false", "punctuate": "true",
        "keywords": None}
    assert partials == ["turn on the"]


async def test_transcribe_sends_finalize_and_waits_for_the_flushed_result():
    async with fake_for(seconds_per_word=0.3) as fake:
        session = await engine_for(fake).open(SttRequest())
        await stream(session, speech(0.9))
        assert await session.transcribe() == "turn on the"
        recorded = fake.streams[0]
        assert recorded.controls == ["Finalize"]
        assert recorded.sent[-1]["from_finalize"] is True and recorded.sent[-1]["is_final"] is True
        await session.close()
    assert recorded.controls == ["Finalize", "CloseStream"]
    assert recorded.sent[-1]["type"] == "Metadata" and recorded.closed_by_server == (1000, "")
    assert len(recorded.audio) == len(speech(0.9))


async def test_more_audio_after_transcribe_extends_the_transcript():
    async with fake_for() as fake:
        session = await engine_for(fake).open(SttRequest())
        await stream(session, speech(0.4))
        assert await session.transcribe() == "turn on"
        assert await session.transcribe() == "turn on", "no new audio: no second Finalize"
        assert fake.streams[0].controls == ["Finalize"]
        await stream(session, speech(0.6))
        assert await session.transcribe() == "turn on the kitchen light"
        assert fake.streams[0].controls == ["Finalize", "Finalize"]
        await session.close()


async def wait_for(condition, timeout_s: float = 5.0) -> None:
    """Until the fake has handled what the engine sent without waiting for an answer."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


def transcripts(sent: list[dict], **flags) -> list[str]:
    return [m["channel"]["alternatives"][0]["transcript"] for m in sent
            if m["type"] == "Results" and all(m[k] == v for k, v in flags.items())]


async def test_segments_finalized_by_endpointing_join_the_flushed_remainder():
    partials: list[str] = []
    async with fake_for() as fake:
        session = await engine_for(fake).open(SttRequest(), partials.append)
        await stream(session, speech(0.4) + silence(0.6) + speech(0.4) + silence(0.1))
        recorded = fake.streams[0]
        await wait_for(lambda: transcripts(recorded.sent, speech_final=True))
        assert transcripts(recorded.sent, speech_final=True) == ["turn on"]
        assert await session.transcribe() == "turn on the kitchen"
        assert transcripts(recorded.sent, from_finalize=True) == ["the kitchen"]
        await session.close()
    assert partials[-1] == "turn on the kitchen"


async def test_an_empty_flush_after_an_endpoint_adds_nothing():
    async with fake_for() as fake:
        session = await engine_for(fake).open(SttRequest())
        await stream(session, speech(0.4) + silence(0.6))
        assert await session.transcribe() == "turn on"
        assert transcripts(fake.streams[0].sent, from_finalize=True) == [""]
        await session.close()


async def test_nothing_left_to_flush_needs_no_finalize():
    async with fake_for() as fake:
        session = await engine_for(fake).open(SttRequest())
        await stream(session, speech(0.4) + silence(0.5))  # the endpoint lands on the last sample
        await wait_for(lambda: transcripts(fake.streams[0].sent, speech_final=True))
        await asyncio.sleep(0.05)  # the engine reads the final result
        assert await session.transcribe() == "turn on"
        assert fake.streams[0].controls == []
        await session.close()


async def test_a_flush_without_from_finalize_is_recognised_by_the_audio_it_covers():
    async with fake_for(ack_finalize=False) as fake:
        session = await engine_for(fake, finalize_timeout_s=30.0).open(SttRequest())
        await stream(session, speech(0.6))
        started = time.monotonic()
        assert await session.transcribe() == "turn on the"
        assert time.monotonic() - started < 10, "should not wait for the Finalize timeout"
        await session.close()


async def test_from_finalize_ends_the_wait_even_when_durations_fall_short():
    async with fake_for(flush_short_s=0.05) as fake:
        session = await engine_for(fake, finalize_timeout_s=30.0).open(SttRequest())
        await stream(session, speech(0.6))
        started = time.monotonic()
        assert await session.transcribe() == "turn on the"
        assert time.monotonic() - started < 10, "from_finalize should end the wait"
        await session.close()


async def test_no_confirmation_in_time_falls_back_to_the_latest_results(caplog):
    async with fake_for(ack_finalize=False, flush_short_s=0.05) as fake:
        session = await engine_for(fake, finalize_timeout_s=0.3).open(SttRequest())
        await stream(session, speech(0.6))
        assert await session.transcribe() == "turn on the"
        await session.close()
    assert "did not confirm Finalize within 0.3 s" in caplog.text


async def test_keepalive_holds_an_idle_stream_open():
    async with fake_for(idle_timeout_s=0.4) as fake:
        session = await engine_for(fake, keepalive_interval_s=0.05).open(SttRequest())
        await stream(session, speech(0.4))
        await asyncio.sleep(1.0)
        assert await session.transcribe() == "turn on"
        await session.close()
    recorded = fake.streams[0]
    assert recorded.controls.count("KeepAlive") >= 5
    assert recorded.closed_by_server == (1000, "")


async def test_without_keepalive_deepgram_closes_with_net_0001():
    async with fake_for(idle_timeout_s=0.3) as fake:
        session = await engine_for(fake, keepalive_interval_s=9.0).open(SttRequest())
        await stream(session, speech(0.2))
        await asyncio.sleep(0.7)
        with pytest.raises(SttError, match="code 1011 NET-0001: Deepgram received no audio") as caught:
            await session.transcribe()
        await session.close()
    assert_clean(caught.value)


async def test_wrong_key_is_a_401_error_without_the_key():
    async with fake_for() as fake:
        with pytest.raises(SttError) as caught:
            await engine_for(fake, api_key=KEY + "x").open(SttRequest())
    message = str(caught.value)
    assert "HTTP 401" in message and "API key" in message and "INVALID_AUTH: Invalid credentials." in message
    assert "[request " in message
    assert_clean(caught.value)
    assert KEY + "x" not in message


async def test_a_refused_request_reports_deepgrams_reason():
    async with fake_for() as fake:
        with pytest.raises(SttError, match=r"HTTP 400: Bad Request: No such model: nova-9\.") as caught:
            await engine_for(fake, model="nova-9").open(SttRequest())
    assert_clean(caught.value)


async def test_unreachable_server_is_a_connect_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = replace(DeepgramSttSettings(), url=f"ws://127.0.0.1:{port}/v1/listen")
    with pytest.raises(SttError, match="cannot connect to Deepgram") as caught:
        await DeepgramEngine(settings, KEY).open(SttRequest())
    assert_clean(caught.value)


async def test_a_key_pasted_into_the_url_is_redacted_from_errors():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = replace(DeepgramSttSettings(), url=f"ws://127.0.0.1:{port}/v1/listen?token={KEY}")
    with pytest.raises(SttError, match=r"token=\*\*\*") as caught:
        await DeepgramEngine(settings, KEY).open(SttRequest())
    assert_clean(caught.value)


async def test_a_handshake_that_never_completes_times_out():
    async with fake_for(stall_handshake=True) as fake:
        with pytest.raises(SttError, match="cannot connect to Deepgram.*TimeoutError") as caught:
            await engine_for(fake, connect_timeout_s=0.2).open(SttRequest())
    assert_clean(caught.value)


async def test_an_unoffered_language_fails_before_connecting():
    async with fake_for() as fake:
        engine = engine_for(fake, languages=["en", "de"])
        with pytest.raises(SttError, match="not configured for language 'fr'"):
            await engine.open(SttRequest(language="fr"))
        with pytest.raises(SttError, match="not a language tag"):
            await engine.open(SttRequest(language="en&model=x"))
    assert fake.handshakes == []
    assert engine.languages() == ["en", "de"]


async def test_close_code_mid_stream_is_an_error_with_the_reason():
    async with fake_for(close_after_s=0.3, close_code=1011, close_reason="NET-0000") as fake:
        session = await engine_for(fake).open(SttRequest())
        with pytest.raises(SttError, match=r"code 1011 NET-0000: Deepgram produced no result") as caught:
            await stream(session, speech(1.0))
            await session.transcribe()
        await session.close()
    assert_clean(caught.value)


async def test_error_message_mid_stream_is_an_error():
    async with fake_for(error_after_s=0.2) as fake:
        session = await engine_for(fake).open(SttRequest())
        with pytest.raises(SttError, match="Deepgram error InternalError: The transcription service failed") as caught:
            await stream(session, speech(0.6))
            await session.transcribe()
        await session.close()
    assert_clean(caught.value)


async def test_a_silent_server_fails_the_session_while_audio_streams():
    async with fake_for(silent=True) as fake:
        session = await engine_for(fake, first_result_timeout_s=0.3).open(SttRequest())
        with pytest.raises(SttError, match="no result within 0.3 s of audio") as caught:
            for _ in range(20):
                await stream(session, silence(0.1))
                await asyncio.sleep(0.05)
        await session.close()
    assert_clean(caught.value)


async def test_a_silent_server_fails_transcribe_after_the_finalize_timeout():
    async with fake_for(silent=True) as fake:
        session = await engine_for(fake, finalize_timeout_s=0.2).open(SttRequest())
        await stream(session, speech(0.2))
        with pytest.raises(SttError, match="no result within 0.2 s of Finalize"):
            await session.transcribe()
        await session.close()


@pytest.mark.parametrize("delay_s, timeout_s, fails", [(0.8, 0.2, True), (0.1, 3.0, False)])
async def test_a_slow_first_result_fails_only_past_the_configured_time(delay_s, timeout_s, fails):
    async with fake_for(first_result_delay_s=delay_s) as fake:
        session = await engine_for(fake, first_result_timeout_s=timeout_s).open(SttRequest())
        await stream(session, speech(0.4))
        await asyncio.sleep(delay_s + 0.3)
        if fails:
            with pytest.raises(SttError, match=f"no result within {timeout_s:g} s of audio"):
                await session.transcribe()
        else:
            assert await session.transcribe() == "turn on"
        await session.close()


async def test_odd_byte_chunks_arrive_as_whole_samples_and_empty_chunks_send_nothing():
    audio = speech(0.6)
    async with fake_for() as fake:
        session = await engine_for(fake).open(SttRequest())
        await session.feed(b"")
        await stream(session, audio + b"\x01", chunk=333)
        assert await session.transcribe() == "turn on the"
        await session.close()
    recorded = fake.streams[0]
    assert bytes(recorded.audio) == audio and recorded.empty_frames == 0


async def test_a_failing_partial_callback_does_not_stop_recognition():
    def explode(text: str) -> None:
        raise RuntimeError("callback bug")

    async with fake_for() as fake:
        session = await engine_for(fake).open(SttRequest(), explode)
        await stream(session, speech(0.4))
        assert await session.transcribe() == "turn on"
        await session.close()


def our_tasks(before: set) -> list[asyncio.Task]:
    """Tasks started since `before` that are still alive, other than the fake server's own."""
    alive = [t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()]
    return [t for t in alive if "websockets/asyncio/server" not in t.get_coro().cr_code.co_filename
            and "tests/fakes" not in t.get_coro().cr_code.co_filename]


@pytest.mark.parametrize("switches", [{}, {"close_after_s": 0.2}, {"silent": True}])
async def test_close_leaves_no_task_behind(switches):
    async with fake_for(**switches) as fake:
        before = asyncio.all_tasks()
        engine = engine_for(fake, first_result_timeout_s=5.0)
        session = await engine.open(SttRequest())
        assert our_tasks(before), "a session runs a reader and a watchdog"
        try:
            await stream(session, speech(0.4))
        except SttError:
            pass
        await session.close()
        await session.close()  # idempotent
        await asyncio.sleep(0)
        assert our_tasks(before) == []
        with pytest.raises(SttError, match="closed"):
            await session.feed(speech(0.1))


async def test_engine_close_closes_open_sessions():
    async with fake_for() as fake:
        before = asyncio.all_tasks()
        engine = engine_for(fake)
        sessions = [await engine.open(SttRequest()) for _ in range(3)]
        await stream(sessions[0], speech(0.2))
        await engine.close()
        await asyncio.sleep(0)
        assert our_tasks(before) == []
    assert [s.controls for s in fake.streams] == [["CloseStream"]] * 3


@pytest.mark.parametrize("message, expected", [
    ({"channel": {"alternatives": [{"transcript": " hi "}]}, "start": 1.0, "duration": 0.5, "is_final": True},
     ("hi", 1.5, True)),
    ({"channel": {"alternatives": []}, "start": 0, "duration": 1}, ("", 1.0, False)),
    ({"channel": {"alternatives": [{"transcript": 5}]}, "start": 0, "duration": 1}, None),
    ({"channel": {"alternatives": [{"transcript": "x"}]}, "start": "0", "duration": 1}, None),
    ({"channel": {"alternatives": [{"transcript": "x"}]}, "start": 0, "duration": float("nan")}, None),
    ({"channel": {"alternatives": [{"transcript": "x"}]}, "start": -1, "duration": 1}, None),
    ({"channel": {"alternatives": [{"transcript": "x"}]}, "start": 0, "duration": True}, None),
    ({"channel": None, "start": 0, "duration": 1}, None),
    ({"channel": {"alternatives": ["x"]}, "start": 0, "duration": 1}, None),
])
def test_results_from_the_wire_are_validated(message: dict, expected: Optional[tuple]):
    assert _parse_results(message) == expected


def test_bias_terms_are_distinct_trimmed_and_capped():
    names = ["Kitchen  Light", "kitchen light", "", "  ", "Bob's lamp", "x" * 300]
    assert bias_terms(names, 10, phrases=True) == ["Kitchen Light", "Bob's lamp", "x" * 100]
    assert bias_terms(names, 3, phrases=False) == ["Kitchen", "Light", "Bob's"]
    assert bias_terms(names, 0, phrases=True) == []


@pytest.mark.parametrize("retry_after, seconds", [("7", 7.0), ("HTTP date", 60.0), ("soon", None), (None, None)])
async def test_a_refusal_carries_its_retry_after_for_the_cooldown(retry_after, seconds):
    if retry_after == "HTTP date":
        retry_after = formatdate(time.time() + 60, usegmt=True)
    async with fake_for(reject_status=429, retry_after=retry_after) as fake:
        with pytest.raises(SttError) as caught:
            await engine_for(fake).open(SttRequest())
    assert "HTTP 429" in str(caught.value)
    assert caught.value.retry_after_s == (None if seconds is None else pytest.approx(seconds, abs=2))
