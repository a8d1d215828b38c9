"""HA's Wyoming config flow (host + port) turns each of our servers into the right entity."""

import pytest

from tests.ha.flows import entities_of


@pytest.mark.parametrize("kind, domain", [("stt", "stt"), ("intent", "conversation"), ("tts", "tts")])
def test_config_flow_creates_the_entity(home_assistant, nexus, kind, domain):
    flow = nexus.flows[kind]
    entry_id = flow["result"]["entry_id"]
    entity_id = nexus.entities[kind]
    assert entity_id.startswith(f"{domain}.")
    assert [e for e in entities_of(home_assistant, entry_id) if e.split(".")[0] in ("stt", "tts", "conversation")] \
        == [entity_id]
    entry = next(e for e in home_assistant.rest("GET", "/api/config/config_entries/entry").json()
                 if e["entry_id"] == entry_id)
    assert entry["domain"] == "wyoming" and entry["state"] == "loaded", entry
    state = home_assistant.rest("GET", f"/api/states/{entity_id}").json()
    assert state["state"] != "unavailable", state
