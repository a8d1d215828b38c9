"""Which device or conversation a request belongs to: field order and validation, never an exception."""

import pytest

from nexus_wyoming.sessions import (
    CONVERSATION_PREFIX, SATELLITE_DEVICE_FIELD, clean_conversation, clean_device, device_key, session_key,
)


def test_satellite_id_wins_over_every_other_field():
    context = {"satellite_id": "sat", "device_id": "dev", SATELLITE_DEVICE_FIELD: "ours", "conversation_id": "conv"}
    assert device_key(context) == "sat"


@pytest.mark.parametrize("context, expected", [
    ({"device_id": "dev", SATELLITE_DEVICE_FIELD: "ours", "conversation_id": "conv"}, "dev"),
    ({SATELLITE_DEVICE_FIELD: "ours", "conversation_id": "conv"}, "ours"),
    ({"conversation_id": "conv"}, None),  # a conversation is not a device: see session_key
    ({}, None),
])
def test_fields_in_order(context, expected):
    assert device_key(context) == expected


@pytest.mark.parametrize("bad", [
    None, 42, 4.2, True, ["kitchen"], {"id": "kitchen"}, "", "   ", "x" * 129, "x" * 1_000_000,
    "kitchen\x00", "kit\nchen", "\x1b[31mred", "tab\there", "\ud800lone",
])
def test_an_invalid_value_is_skipped_for_the_next_field(bad):
    assert device_key({"satellite_id": bad, "device_id": "dev"}) == "dev"
    assert device_key({"satellite_id": bad, "conversation_id": "conv"}) is None


@pytest.mark.parametrize("good", [
    "kitchen", "x" * 128, "🍳 kitchen speaker", "'; DROP TABLE sessions; --", "a b c", "Küche",
    "01JABCDEF0123456789ABCDEFG",
])
def test_printable_ids_up_to_128_characters_are_kept_as_given(good):
    assert device_key({"device_id": good}) == good
    assert clean_device(good) == good


@pytest.mark.parametrize("context", [None, "kitchen", 7, ["satellite_id"], b"bytes", object()])
def test_a_context_that_is_not_an_object_names_no_device(context):
    assert device_key(context) is None


def test_a_device_id_cannot_pose_as_a_conversation_key():
    assert clean_device(CONVERSATION_PREFIX + "01HA") is None
    assert device_key({"device_id": CONVERSATION_PREFIX + "01HA", SATELLITE_DEVICE_FIELD: "ours"}) == "ours"


def test_the_session_key_is_the_device_else_the_conversation():
    assert session_key("kitchen", "01HA") == "kitchen"
    assert session_key(None, "01HA") == CONVERSATION_PREFIX + "01HA"
    assert session_key(None, None) is None


@pytest.mark.parametrize("good", [
    "01JABCDEF0123456789ABCDEFG", "01jabcdef0123456789abcdefg", "3f2b8c1e-5d6a-4b7c-9e8f-0a1b2c3d4e5f",
    "c1", "x" * 128, "chat.2025-05-01:7_a",
])
def test_conversation_ids_home_assistant_and_clients_make_are_kept(good):
    assert clean_conversation(good) == good


@pytest.mark.parametrize("bad", [
    None, 42, True, ["01HA"], {"id": "01HA"}, "", " ", "x" * 129, "x" * 1_000_000, "01HA\n", "01HA\x00",
    "a b", "-leading-dash", ".hidden", "../../etc/passwd", "01HA*", "nexus:v1:*", "Küche", "\ud800", "\x1b[31m",
    "'; DROP TABLE sessions; --", "id\r\nSET x 1",
])
def test_a_conversation_id_outside_the_charset_or_length_is_refused(bad):
    assert clean_conversation(bad) is None
