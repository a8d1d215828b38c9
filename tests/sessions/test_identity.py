"""Which device a request belongs to: field order and validation, never an exception."""

import pytest

from nexus_wyoming.sessions import SATELLITE_DEVICE_FIELD, clean_device, device_key


def test_satellite_id_wins_over_every_other_field():
    context = {"satellite_id": "sat", "device_id": "dev", SATELLITE_DEVICE_FIELD: "ours", "conversation_id": "conv"}
    assert device_key(context) == "sat"


@pytest.mark.parametrize("context, expected", [
    ({"device_id": "dev", SATELLITE_DEVICE_FIELD: "ours", "conversation_id": "conv"}, "dev"),
    ({SATELLITE_DEVICE_FIELD: "ours", "conversation_id": "conv"}, "ours"),
    ({"conversation_id": "conv"}, "conv"),
    ({}, None),
])
def test_fields_in_order(context, expected):
    assert device_key(context) == expected


@pytest.mark.parametrize("bad", [
    None, 42, 4.2, True, ["kitchen"], {"id": "kitchen"}, "", "   ", "x" * 129, "x" * 1_000_000,
    "kitchen\x00", "kit\nchen", "\x1b[31mred", "tab\there", "\ud800lone",
])
def test_an_invalid_value_is_skipped_for_the_next_field(bad):
    assert device_key({"satellite_id": bad, "conversation_id": "conv"}) == "conv"
    assert device_key({"satellite_id": bad}) is None


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
