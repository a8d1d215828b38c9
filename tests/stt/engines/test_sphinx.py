"""pocketsphinx partials: growing hypotheses, a bounded pool, English only."""

import asyncio

import pytest
import pytest_asyncio

from nexus_wyoming.stt.engine import SttBusyError, SttError, SttRequest
from nexus_wyoming.stt.engines.sphinx import MAX_LAG_BYTES, SphinxEngine
from tests.stt.speech import chunks, silence


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sphinx():
    engine = SphinxEngine(sessions=2)
    await engine.start()
    yield engine
    await engine.close()


async def all_free(engine: SphinxEngine) -> None:
    """Closing hands the decoder back from its thread, a moment later."""
    async with asyncio.timeout(5):
        while engine.available < engine.sessions:
            await asyncio.sleep(0.01)


async def settle(session) -> None:
    while session._worker is not None and not session._worker.done():
        await asyncio.sleep(0.01)


@pytest.mark.asyncio(loop_scope="module")
async def test_partials_grow_while_audio_streams(sphinx, speaker):
    seen: list[str] = []
    session = await sphinx.open(SttRequest(language="en"), seen.append)
    for piece in chunks(speaker.say("Turn on the kitchen lights.") + silence(0.3)):
        await session.feed(piece)
        await asyncio.sleep(0.005)
    await settle(session)
    assert len(seen) >= 2 and len(set(seen)) == len(seen)  # reported only when it changes
    assert "kitchen" in seen[-1]
    assert session.cpu_seconds > 0
    await session.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_pool_exhaustion_is_busy_and_closing_frees_a_decoder(sphinx):
    await all_free(sphinx)
    first = await sphinx.open(SttRequest())
    second = await sphinx.open(SttRequest())
    with pytest.raises(SttBusyError):
        await sphinx.open(SttRequest())
    await first.close()
    async with asyncio.timeout(5):
        while sphinx.available == 0:
            await asyncio.sleep(0.01)
    third = await sphinx.open(SttRequest())
    await third.close()
    await second.close()
    await all_free(sphinx)


@pytest.mark.asyncio(loop_scope="module")
async def test_falling_behind_drops_partials_instead_of_queueing(sphinx):
    session = await sphinx.open(SttRequest(), lambda text: None)
    await session.feed(bytes(MAX_LAG_BYTES + 2))  # far more than it could decode at once
    assert session.lagging
    await session.feed(bytes(3200))
    assert len(session._pending) == 0
    await session.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_other_languages_get_no_partials(sphinx):
    with pytest.raises(SttError, match="English"):
        await sphinx.open(SttRequest(language="de-DE"))
