"""Sessions keyed by conversation id when the client gives one, by device otherwise (both stores, and Redis)."""

import pytest

from nexus_wyoming.sessions import CONVERSATION_PREFIX


@pytest.fixture(params=["store", "redis"])
async def manager(request, make_manager):
    """A manager on each store, alone or with Redis in front."""
    if request.param == "redis":
        return await make_manager(redis_url=request.getfixturevalue("redis_prefix_free").url)
    return await make_manager()


async def said(manager, session) -> list[str]:
    return [m.text for m in session.history]


async def test_a_conversation_without_a_device_has_memory(manager):
    first = await manager.begin_turn(None, conversation="01HA")
    assert not first.anonymous and first.conversation_id == "01HA"
    await manager.record_turn(first, "my name is Ada", "noted")
    again = await manager.begin_turn(None, conversation="01HA")
    assert again.id == first.id and await said(manager, again) == ["my name is Ada", "noted"]
    other = await manager.begin_turn(None, conversation="01HB")
    assert other.id != first.id and other.history == []
    assert [d.device_id for d in await manager.devices()] == [CONVERSATION_PREFIX + "01HA"]


async def test_a_device_continues_its_conversation_and_a_new_conversation_id_starts_fresh(manager):
    first = await manager.begin_turn("kitchen", conversation="01HA")
    await manager.record_turn(first, "my name is Ada", "noted")
    same = await manager.begin_turn("kitchen", conversation="01HA")
    assert same.id == first.id and await said(manager, same) == ["my name is Ada", "noted"]
    await manager.record_turn(same, "and I like tea", "noted too")
    fresh = await manager.begin_turn("kitchen", conversation="01HB")
    assert fresh.id != first.id and fresh.is_new and fresh.history == [] and fresh.device_id == "kitchen"
    await manager.record_turn(fresh, "hello", "hi")
    assert (await manager.begin_turn("kitchen", conversation="01HB")).id == fresh.id
    old, = [s for s in await manager.device_sessions("kitchen") if s.id == first.id]
    assert old.conversation_id == "01HA" and len(old.history) == 4  # the earlier conversation stays queryable


async def test_the_device_context_applies_in_every_conversation_of_the_device(manager):
    await manager.set_context("kitchen", "This speaker is in the kitchen.")
    assert (await manager.begin_turn("kitchen", conversation="01HA")).context == "This speaker is in the kitchen."
    assert (await manager.begin_turn(None, conversation="kitchen")).context is None


async def test_an_id_the_server_made_up_continues_the_device_and_becomes_its_conversation(manager):
    first = await manager.begin_turn("kitchen", conversation="made-up-1", from_client=False)
    await manager.record_turn(first, "one", "1")
    after_restart = await manager.begin_turn("kitchen", conversation="made-up-2", from_client=False)
    assert after_restart.id == first.id and after_restart.conversation_id == "made-up-2"
    await manager.record_turn(after_restart, "two", "2")
    echoed = await manager.begin_turn("kitchen", conversation="made-up-2")  # the client sends back what we sent
    assert echoed.id == first.id and await said(manager, echoed) == ["one", "1", "two", "2"]


async def test_a_session_stored_before_conversation_ids_takes_the_first_one_given(manager):
    legacy = await manager.begin_turn("kitchen")
    assert legacy.conversation_id is None
    await manager.record_turn(legacy, "one", "1")
    adopted = await manager.begin_turn("kitchen", conversation="01HA")
    assert adopted.id == legacy.id and adopted.conversation_id == "01HA"
    await manager.record_turn(adopted, "two", "2")
    assert (await manager.begin_turn("kitchen", conversation="01HB")).id != legacy.id


async def test_a_conversation_id_never_reaches_a_device_session_or_the_other_way(manager):
    device = await manager.begin_turn("kitchen", conversation="01HA")
    await manager.record_turn(device, "the alarm code is 1234", "noted")
    posing = await manager.begin_turn(None, conversation="kitchen")
    assert posing.id != device.id and posing.history == []
    conversation = await manager.begin_turn(None, conversation="01HC")
    await manager.record_turn(conversation, "secret", "ok")
    assert (await manager.begin_turn(CONVERSATION_PREFIX + "01HC")).anonymous  # not a device id


@pytest.mark.parametrize("bad", ["01HA\n", "a b", "x" * 129, "", "Küche", "01HA*", 7, ["01HA"], None])
async def test_an_unusable_conversation_id_is_no_key(manager, bad):
    session = await manager.begin_turn(None, conversation=bad)
    assert session.anonymous and session.conversation_id is None
    assert await manager.record_turn(session, "hi", "hello") is False
    with_device = await manager.begin_turn("kitchen", conversation=bad)
    assert with_device.device_id == "kitchen" and with_device.conversation_id is None


async def test_another_server_sharing_redis_and_store_sees_the_conversation(make_manager, redis_prefix_free):
    first = await make_manager(redis_url=redis_prefix_free.url)
    second = await make_manager(redis_url=redis_prefix_free.url)
    session = await first.begin_turn("kitchen", conversation="01HA")
    await first.record_turn(session, "my name is Ada", "noted")
    cached = await second.begin_turn("kitchen", conversation="01HA")
    assert cached.id == session.id and await said(second, cached) == ["my name is Ada", "noted"]
    assert (await second.begin_turn("kitchen", conversation="01HB")).history == []
