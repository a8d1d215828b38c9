"""FallbackEngine: order, fallback on error / exception / timeout, voices, cool-down, clean-up."""

import asyncio
import time
from contextlib import aclosing
from typing import AsyncIterator

import pytest

from nexus_wyoming.tts import fallback as fallback_module
from nexus_wyoming.tts.engine import TtsAudio, TtsError, UnknownVoiceError, VoiceInfo, VoiceRequest
from nexus_wyoming.tts.fallback import FallbackEngine

DEFAULT = VoiceRequest()
TIMEOUT = 0.1


class FakeEngine:
    """A TtsEngine whose behaviour is set per test; it records how each stream ended.

    behaviour: "ok" | "tts-error" | "os-error" | "unknown-voice" | "hang" | "slow" | "fail-after-first"
    | "stall-after-first" | "rate-limited" (a TtsError with retry-after `delay_s`)
    """

    def __init__(self, name: str, behaviour: str = "ok", pieces: int = 3, voices=("default",),
                 delay_s: float = 0.3, rate: int = 22050) -> None:
        self.name = name
        self.behaviour = behaviour
        self.pieces = pieces
        self._voices = voices
        self.delay_s = delay_s
        self.rate = rate
        self.calls: list[tuple[str, VoiceRequest]] = []
        self.yielded = 0
        self.endings: list[str] = []   # how each stream ended: done / raised / aclose / cancelled
        self.closed = False

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo(name=v, languages=["en"]) for v in self._voices]

    async def synthesize(self, text: str, voice: VoiceRequest) -> AsyncIterator[TtsAudio]:
        self.calls.append((text, voice))
        try:
            if self.behaviour == "tts-error":
                raise TtsError(f"{self.name} is down")
            if self.behaviour == "os-error":
                raise OSError(f"{self.name}: network unreachable")
            if self.behaviour == "unknown-voice":
                raise UnknownVoiceError(f"{self.name} has no such voice")
            if self.behaviour == "hang":
                await asyncio.Event().wait()
            if self.behaviour == "slow":
                await asyncio.sleep(self.delay_s)
            if self.behaviour == "rate-limited":
                raise TtsError(f"{self.name}: HTTP 429", retry_after_s=self.delay_s)
            for index in range(self.pieces):
                self.yielded += 1
                yield TtsAudio(audio=f"{self.name}:{text}:{index}".encode(), rate=self.rate)
                if self.behaviour == "fail-after-first":
                    raise TtsError(f"{self.name} broke mid-stream")
                if self.behaviour == "stall-after-first":
                    await asyncio.sleep(self.delay_s)
                await asyncio.sleep(0)
        except GeneratorExit:
            self.endings.append("aclose")
            raise
        except asyncio.CancelledError:
            self.endings.append("cancelled")
            raise
        except BaseException:
            self.endings.append("raised")
            raise
        else:
            self.endings.append("done")

    async def close(self) -> None:
        self.closed = True


async def collect(chain: FallbackEngine, text: str = "Hello.", voice: VoiceRequest = DEFAULT) -> list[TtsAudio]:
    async with asyncio.timeout(5):
        return [piece async for piece in chain.synthesize(text, voice)]


def fallbacks(name: str) -> float:
    return fallback_module._FALLBACKS.value(engine=name)


# ---------------------------------------------------------------- order and fallback


def test_an_empty_chain_is_refused():
    with pytest.raises(ValueError):
        FallbackEngine([], TIMEOUT)


async def test_first_healthy_engine_is_used_and_pieces_carry_its_name():
    a, b = FakeEngine("a"), FakeEngine("b")
    pieces = await collect(FallbackEngine([a, b], TIMEOUT), "Hi.")
    assert [p.audio for p in pieces] == [b"a:Hi.:0", b"a:Hi.:1", b"a:Hi.:2"]
    assert {p.engine for p in pieces} == {"a"}
    assert all(p.rate == 22050 and p.width == 2 and p.channels == 1 for p in pieces)
    assert b.calls == []
    assert a.endings == ["done"]


@pytest.mark.parametrize("behaviour", ["tts-error", "os-error", "hang", "slow"])
async def test_falls_back_before_first_audio(behaviour):
    a = FakeEngine(f"a-{behaviour}", behaviour, delay_s=2.0)
    b = FakeEngine(f"b-{behaviour}", rate=16000)
    chain = FallbackEngine([a, b], TIMEOUT, cooldown_s=60)
    before = fallbacks(a.name)
    began = time.monotonic()
    pieces = await collect(chain, "Hi.")
    elapsed = time.monotonic() - began
    assert [p.audio for p in pieces] == [f"{b.name}:Hi.:{i}".encode() for i in range(3)]
    assert {p.engine for p in pieces} == {b.name}
    assert {p.rate for p in pieces} == {16000}
    assert len(a.calls) == 1 and len(b.calls) == 1
    assert a.yielded == 0
    assert fallbacks(a.name) == before + 1
    assert fallbacks(b.name) == 0
    if behaviour in ("hang", "slow"):
        assert elapsed < 1.0, elapsed   # gave up at the timeout, not at the engine's pace (2 s)


async def test_hanging_engine_is_not_left_running():
    a, b = FakeEngine("a", "hang"), FakeEngine("b")
    await collect(FallbackEngine([a, b], TIMEOUT))
    assert a.endings and a.endings[0] in ("cancelled", "aclose")


async def test_slow_engine_never_produces_audio_after_being_abandoned():
    a, b = FakeEngine("a", "slow", delay_s=0.2), FakeEngine("b")
    await collect(FallbackEngine([a, b], TIMEOUT))
    await asyncio.sleep(0.3)
    assert a.yielded == 0
    assert len(a.endings) == 1


async def test_chain_of_three_skips_two_failures():
    a, b, c = FakeEngine("a", "tts-error"), FakeEngine("b", "hang"), FakeEngine("c")
    pieces = await collect(FallbackEngine([a, b, c], TIMEOUT))
    assert {p.engine for p in pieces} == {"c"} and len(pieces) == 3


async def test_the_last_engine_gets_no_timeout():
    a, b = FakeEngine("a", "tts-error"), FakeEngine("b", "slow", delay_s=3 * TIMEOUT)
    pieces = await collect(FallbackEngine([a, b], TIMEOUT))
    assert len(pieces) == 3 and {p.engine for p in pieces} == {"b"}


async def test_a_single_slow_engine_is_waited_for():
    only = FakeEngine("only", "slow", delay_s=3 * TIMEOUT)
    pieces = await collect(FallbackEngine([only], TIMEOUT))
    assert len(pieces) == 3


@pytest.mark.parametrize("behaviour, error", [("tts-error", TtsError), ("os-error", OSError)])
async def test_failure_of_the_last_engine_propagates(behaviour, error):
    a, b = FakeEngine("a-last", "tts-error"), FakeEngine("b-last", behaviour)
    with pytest.raises(error, match="b-last"):
        await collect(FallbackEngine([a, b], TIMEOUT))


async def test_failure_after_first_audio_ends_the_unit_and_the_next_unit_goes_to_the_successor():
    # Never heard twice: what was spoken stays, the rest of this unit is dropped.
    a, b = FakeEngine("a-mid", "fail-after-first"), FakeEngine("b-mid")
    chain = FallbackEngine([a, b], TIMEOUT)
    before = fallbacks(a.name)
    received = [piece async for piece in chain.synthesize("Hi.", DEFAULT)]
    assert [(p.audio, p.engine) for p in received] == [(b"a-mid:Hi.:0", "a-mid")]
    assert b.calls == []
    assert fallbacks(a.name) == before + 1
    following = await collect(chain, "Next.")
    assert {p.engine for p in following} == {"b-mid"} and len(a.calls) == 1


async def test_a_stall_after_first_audio_counts_as_a_failure():
    a = FakeEngine("a-stall", "stall-after-first", delay_s=5.0)
    b = FakeEngine("b-stall")
    chain = FallbackEngine([a, b], TIMEOUT, chunk_stall_timeout_s=0.2)
    began = time.monotonic()
    received = await collect(chain, "Hi.")
    assert time.monotonic() - began < 1.0   # the stall budget, not the engine's 5 s gap
    assert [p.audio for p in received] == [b"a-stall:Hi.:0"]
    assert a.endings and a.endings[0] in ("cancelled", "aclose")
    assert {p.engine for p in await collect(chain, "Next.")} == {"b-stall"}


async def test_retry_after_of_a_provider_is_its_cooldown():
    a = FakeEngine("a-429", "rate-limited", delay_s=0.3)   # retry after 0.3 s
    b = FakeEngine("b-429")
    chain = FallbackEngine([a, b], TIMEOUT, cooldown_s=60)
    await collect(chain)
    await collect(chain)
    assert len(a.calls) == 1                  # skipped while its retry-after runs
    await asyncio.sleep(0.35)
    a.behaviour = "ok"
    assert {p.engine for p in await collect(chain)} == {"a-429"}   # not the 60 s default


async def test_failure_after_first_audio_of_the_last_engine_propagates():
    a = FakeEngine("a-mid-last", "fail-after-first")
    with pytest.raises(TtsError, match="mid-stream"):
        await collect(FallbackEngine([a], TIMEOUT))


# ---------------------------------------------------------------- voices


async def test_unknown_voice_error_from_an_engine_is_not_fallen_back_on():
    a, b = FakeEngine("a-uv", "unknown-voice"), FakeEngine("b-uv")
    before = fallbacks(a.name)
    with pytest.raises(UnknownVoiceError):
        await collect(FallbackEngine([a, b], TIMEOUT))
    assert b.calls == []
    assert fallbacks(a.name) == before


async def test_a_voice_no_engine_offers_raises_unknown_voice():
    a, b = FakeEngine("a", voices=("alpha",)), FakeEngine("b", voices=("beta",))
    with pytest.raises(UnknownVoiceError, match="gamma"):
        await collect(FallbackEngine([a, b], TIMEOUT), voice=VoiceRequest(name="gamma"))
    assert a.calls == [] and b.calls == []


async def test_requested_voice_routes_to_the_engine_offering_it():
    a, b, c = FakeEngine("a", voices=("alpha",)), FakeEngine("b", voices=("beta",)), FakeEngine("c", voices=("gamma",))
    voice = VoiceRequest(name="beta", speaker="s1", language="en")
    pieces = await collect(FallbackEngine([a, b, c], TIMEOUT), "Hi.", voice)
    assert {p.engine for p in pieces} == {"b"}
    assert a.calls == [] and c.calls == []
    assert b.calls == [("Hi.", voice)]   # the request is passed through unchanged


async def test_requested_voice_falls_back_only_among_engines_offering_it():
    a = FakeEngine("a", "tts-error", voices=("shared",))
    b = FakeEngine("b", voices=("other",))
    c = FakeEngine("c", voices=("shared", "extra"))
    pieces = await collect(FallbackEngine([a, b, c], TIMEOUT), voice=VoiceRequest(name="shared"))
    assert {p.engine for p in pieces} == {"c"}
    assert b.calls == []


async def test_default_voice_request_goes_to_the_first_engine_whatever_its_voices():
    a, b = FakeEngine("a", voices=()), FakeEngine("b", voices=("beta",))
    pieces = await collect(FallbackEngine([a, b], TIMEOUT))
    assert {p.engine for p in pieces} == {"a"}


def test_voices_union_first_engine_wins_a_clash():
    a = FakeEngine("a", voices=("one", "two"))
    b = FakeEngine("b", voices=("two", "three"))
    voices = FallbackEngine([a, b], TIMEOUT).voices()
    assert [v.name for v in voices] == ["one", "two", "three"]


# ---------------------------------------------------------------- cool-down


async def test_failed_engine_is_skipped_during_cooldown_and_retried_after():
    a, b = FakeEngine("a-cool", "hang"), FakeEngine("b-cool")
    chain = FallbackEngine([a, b], TIMEOUT, cooldown_s=0.4)
    await collect(chain)
    assert len(a.calls) == 1

    # Within the cool-down: straight to b, without paying the timeout again.
    began = time.monotonic()
    pieces = await collect(chain)
    assert time.monotonic() - began < TIMEOUT   # a retry of "a" would take the whole timeout
    assert len(a.calls) == 1 and {p.engine for p in pieces} == {"b-cool"}

    # After the cool-down: a is tried again, and now that it works it is used.
    await asyncio.sleep(0.45)
    a.behaviour = "ok"
    pieces = await collect(chain)
    assert len(a.calls) == 2 and {p.engine for p in pieces} == {"a-cool"}


async def test_a_recovered_engine_is_no_longer_cooling_down():
    a, b = FakeEngine("a", "tts-error"), FakeEngine("b")
    chain = FallbackEngine([a, b], TIMEOUT, cooldown_s=0.2)
    await collect(chain)
    await asyncio.sleep(0.25)
    a.behaviour = "ok"
    await collect(chain)                # a succeeds again
    a.behaviour = "tts-error"
    await collect(chain)                # fails: tried (not skipped) and b takes over
    assert len(a.calls) == 3


async def test_when_every_candidate_is_cooling_down_the_last_one_is_still_tried():
    a = FakeEngine("a", "tts-error", voices=("v",))
    b = FakeEngine("b", voices=("v",))
    c = FakeEngine("c", voices=("w",))
    chain = FallbackEngine([a, b, c], TIMEOUT, cooldown_s=60)
    await collect(chain)                # a fails → b
    b.behaviour = "tts-error"
    await collect(chain)                # (a cooling) b fails → c
    b.behaviour = "ok"
    pieces = await collect(chain, voice=VoiceRequest(name="v"))   # a and b both cooling
    assert {p.engine for p in pieces} == {"b"}
    assert len(a.calls) == 1


async def test_cooldown_zero_retries_every_time():
    a, b = FakeEngine("a", "tts-error"), FakeEngine("b")
    chain = FallbackEngine([a, b], TIMEOUT, cooldown_s=0)
    for _ in range(3):
        await collect(chain)
    assert len(a.calls) == 3 and len(b.calls) == 3


# ---------------------------------------------------------------- metrics and clean-up


async def test_fallback_counter_counts_each_move_per_engine():
    a, b, c = FakeEngine("a-count", "tts-error"), FakeEngine("b-count", "os-error"), FakeEngine("c-count")
    before = (fallbacks("a-count"), fallbacks("b-count"), fallbacks("c-count"))
    await collect(FallbackEngine([a, b, c], TIMEOUT, cooldown_s=0))
    await collect(FallbackEngine([a, b, c], TIMEOUT, cooldown_s=0))
    assert (fallbacks("a-count"), fallbacks("b-count"), fallbacks("c-count")) == (
        before[0] + 2, before[1] + 2, before[2])
    assert 'nexus_tts_fallbacks_total{engine="a-count"}' in fallback_module.REGISTRY.render()


async def test_consumer_stopping_early_closes_the_engine_stream():
    a = FakeEngine("a", pieces=10)
    chain = FallbackEngine([a, FakeEngine("b")], TIMEOUT)
    async with aclosing(chain.synthesize("Hi.", DEFAULT)) as stream:
        first = await anext(stream)
    assert first.engine == "a"
    assert a.endings == ["aclose"]
    assert a.yielded == 1


async def test_consumer_stopping_early_on_the_fallback_engine_closes_it_too():
    a, b = FakeEngine("a", "tts-error"), FakeEngine("b", pieces=10)
    chain = FallbackEngine([a, b], TIMEOUT)
    async with aclosing(chain.synthesize("Hi.", DEFAULT)) as stream:
        await anext(stream)
        await anext(stream)
    assert b.endings == ["aclose"]
    assert a.endings == ["raised"]


async def test_cancelled_consumer_closes_the_engine_stream():
    a = FakeEngine("a", "slow", delay_s=10)
    chain = FallbackEngine([a], TIMEOUT)
    task = asyncio.create_task(collect(chain))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert a.endings == ["cancelled"]


async def test_close_closes_every_engine():
    engines = [FakeEngine("a"), FakeEngine("b"), FakeEngine("c")]
    await FallbackEngine(engines, TIMEOUT).close()
    assert all(e.closed for e in engines)
