"""Home Assistant's Wyoming config flow, as the UI drives it over REST."""

import time

from tests.support.homeassistant import HomeAssistant


def entities_of(ha: HomeAssistant, entry_id: str) -> list[str]:
    """The entity ids a config entry created (from the entity registry)."""
    return [e["entity_id"] for e in ha.command("config/entity_registry/list") if e["config_entry_id"] == entry_id]


def wait_for_entity(ha: HomeAssistant, entry_id: str, domain: str, timeout: float = 30.0) -> str:
    """The entry's first entity of `domain` once it exists and has a state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entity_id in entities_of(ha, entry_id):
            if entity_id.startswith(f"{domain}.") and ha.rest("GET", f"/api/states/{entity_id}").status_code == 200:
                return entity_id
        time.sleep(0.2)
    raise AssertionError(f"no {domain}.* entity for entry {entry_id}: {entities_of(ha, entry_id)}")


DOMAINS = {"stt": "stt", "tts": "tts", "intent": "conversation", "satellite": "assist_satellite"}


def add_wyoming(ha: HomeAssistant, host: str, port: int, kind: str = "") -> tuple[dict, str]:
    """The `user` step with host and port; the created entry and its entity of `kind`'s domain."""
    started = ha.rest("POST", "/api/config/config_entries/flow", {"handler": "wyoming", "show_advanced_options": False})
    started.raise_for_status()
    flow = started.json()
    assert flow["type"] == "form" and flow["step_id"] == "user", flow
    done = ha.rest("POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {"host": host, "port": port})
    done.raise_for_status()
    result = done.json()
    assert result["type"] == "create_entry", result
    entry_id = result["result"]["entry_id"]
    if not kind:
        return result, ""
    return result, wait_for_entity(ha, entry_id, DOMAINS[kind])
