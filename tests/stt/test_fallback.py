"""The fallback chain: the next engine gets the whole utterance replayed."""

import asyncio
from typing import Optional

import pytest

from nexus_wyoming.stt.engine import SttBusyError, SttError, SttRequest
from nexus_wyoming.stt.fallback import FallbackEngine


class Scripted:
    """An engine that hears bytes and fails where it is told to."""

    def __init__(self, name: str, fail_open=None, fail_feed_after: Optional[int] = None, fail_transcribe=None,
                 hang: bool = False, partials: bool = False) -> None:
        self.name = name
        self.fail_open, self.fail_feed_after, self.fail_transcribe = fail_open, fail_feed_after, fail_transcribe
        self.hang, self.partials = hang, partials
        self.sessions: list["ScriptedSession"] = []

    def languages(self) -> list[str]:
        return ["en"] if self.name != "de-only" else ["de"]

    async def open(self, request, on_partial=None):
        if self.fail_open:
            raise self.fail_open
        session = ScriptedSession(self, on_partial)
        self.sessions.append(session)
        return session

    async def close(self) -> None:
        pass


class ScriptedSession:
    def __init__(self, engine: Scripted, on_partial) -> None:
        self.engine, self.on_partial = engine, on_partial
        self.heard = b""
        self.closed = False

    async def feed(self, audio: bytes) -> None:
        if self.engine.fail_feed_after is not None and len(self.heard) >= self.engine.fail_feed_after:
            raise SttError(f"{self.engine.name} lost its connection")
        self.heard += audio
        if self.engine.partials and self.on_partial:
            self.on_partial(f"{self.engine.name} heard {len(self.heard)}")

    async def transcribe(self) -> str:
        if self.engine.hang:
            await asyncio.sleep(3600)
        if self.engine.fail_transcribe:
            raise self.engine.fail_transcribe
        return f"{self.engine.name}:{self.heard.decode()}"

    async def close(self) -> None:
        self.closed = True


def chain(*engines, timeout=0.2, max_replay=1000) -> FallbackEngine:
    return FallbackEngine(list(engines), timeout, max_replay)


async def utterance(engine: FallbackEngine, pieces=(b"one ", b"two ", b"three"), partials=None) -> str:
    session = await engine.open(SttRequest(language="en"), partials.append if partials is not None else None)
    try:
        for piece in pieces:
            await session.feed(piece)
        return await session.transcribe()
    finally:
        await session.close()


async def test_first_engine_answers_when_healthy():
    first, second = Scripted("a"), Scripted("b")
    assert await utterance(chain(first, second)) == "a:one two three"
    assert second.sessions == []


async def test_open_failure_moves_on_before_any_audio():
    first, second = Scripted("a", fail_open=SttError("refused")), Scripted("b")
    assert await utterance(chain(first, second)) == "b:one two three"


async def test_feed_failure_replays_the_whole_utterance():
    first, second = Scripted("a", fail_feed_after=4), Scripted("b")
    assert await utterance(chain(first, second)) == "b:one two three"
    assert first.sessions[0].closed


async def test_transcribe_failure_replays_the_whole_utterance():
    first, second = Scripted("a", fail_transcribe=SttError("bad answer")), Scripted("b")
    assert await utterance(chain(first, second)) == "b:one two three"


async def test_no_result_in_time_moves_on():
    first, second = Scripted("a", hang=True), Scripted("b")
    assert await utterance(chain(first, second, timeout=0.05)) == "b:one two three"


async def test_the_last_engine_gets_all_the_time_it_needs():
    slow = Scripted("slow", hang=True)
    session = await chain(slow, timeout=0.01).open(SttRequest())
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await session.transcribe()  # not cut at 0.01 s: the last engine has no timeout


async def test_every_engine_failing_is_an_stt_error():
    with pytest.raises(SttError, match="bad b"):
        await utterance(chain(Scripted("a", fail_transcribe=SttError("bad a")),
                              Scripted("b", fail_transcribe=SttError("bad b"))))


async def test_busy_last_engine_stays_busy_and_is_not_cooled_down():
    busy = Scripted("w", fail_transcribe=SttBusyError("queue full"))
    engine = chain(Scripted("a", fail_open=SttError("down")), busy)
    with pytest.raises(SttBusyError):
        await utterance(engine)
    busy.fail_transcribe = None
    assert await utterance(engine) == "w:one two three"


async def test_a_failed_engine_is_skipped_for_a_while_but_the_last_is_always_tried():
    first, second = Scripted("a", fail_transcribe=SttError("x")), Scripted("b", fail_transcribe=SttError("y"))
    engine = chain(first, second)
    with pytest.raises(SttError):
        await utterance(engine)
    second.fail_transcribe = None
    assert await utterance(engine) == "b:one two three"
    assert len(first.sessions) == 1  # cooling down: not opened again


async def test_audio_too_long_to_replay_is_not_replayed_in_part():
    first, second = Scripted("a", fail_transcribe=SttError("x")), Scripted("b")
    with pytest.raises(SttError, match="x"):
        await utterance(chain(first, second, max_replay=8))
    assert second.sessions == []


async def test_partials_of_a_failed_engine_stop_and_replay_is_silent():
    first, second = Scripted("a", fail_feed_after=8, partials=True), Scripted("b", partials=True)
    seen: list[str] = []
    assert await utterance(chain(first, second), [b"one ", b"two ", b"three ", b"four"], seen) == \
        "b:one two three four"
    # a: 2 chunks; b: replay of 3 chunks is withheld, then its live chunk shows
    assert seen == ["a heard 4", "a heard 8", "b heard 18"]


async def test_a_feed_while_transcribing_is_not_lost_on_fallback():
    first = Scripted("a", fail_transcribe=SttError("x"))
    second = Scripted("b")
    session = await chain(first, second).open(SttRequest())
    await session.feed(b"early ")
    decode = asyncio.create_task(session.transcribe())  # an early decode, as the endpointer starts it
    await session.feed(b"late")
    assert await decode in ("b:early ", "b:early late")
    assert second.sessions[0].heard == b"early late"
    await session.close()


def test_languages_are_every_engines():
    assert chain(Scripted("a"), Scripted("de-only")).languages() == ["en", "de"]


async def test_a_busy_last_engine_keeps_the_session_for_a_later_transcribe():
    # An early decode refused as busy must not kill the utterance: the final one may get a turn.
    from nexus_wyoming.stt.engine import SttBusyError, SttRequest
    from nexus_wyoming.stt.fallback import FallbackEngine

    class Session:
        calls = 0

        async def feed(self, audio):
            pass

        async def transcribe(self):
            Session.calls += 1
            if Session.calls == 1:
                raise SttBusyError("2 decodes already waiting")
            return "hello"

        async def close(self):
            pass

    class Engine:
        name = "only"

        def languages(self):
            return ["en"]

        async def open(self, request, on_partial=None):
            return Session()

        async def close(self):
            pass

    chain = FallbackEngine([Engine()], first_result_timeout_s=1.0, max_replay_bytes=1000)
    session = await chain.open(SttRequest(language="en"))
    await session.feed(b"\0\0" * 100)
    with pytest.raises(SttBusyError):
        await session.transcribe()
    assert await session.transcribe() == "hello"
