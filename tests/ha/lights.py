"""The two Kitchen lights of the test configuration (template lights over input_booleans)."""

import time

from tests.support.homeassistant import HomeAssistant

KITCHEN = ("light.kitchen_ceiling", "light.kitchen_counter")


def kitchen_lights(ha: HomeAssistant, wait_for: str = "", timeout: float = 5.0) -> set[str]:
    """The set of their states (after waiting up to `timeout` for all to be `wait_for`)."""
    deadline = time.monotonic() + timeout
    while True:
        states = {ha.rest("GET", f"/api/states/{light}").json()["state"] for light in KITCHEN}
        if not wait_for or states == {wait_for} or time.monotonic() > deadline:
            return states
        time.sleep(0.1)


def set_kitchen_lights(ha: HomeAssistant, state: str) -> None:
    ha.rest("POST", f"/api/services/light/turn_{state}", {"entity_id": list(KITCHEN)}).raise_for_status()
    assert kitchen_lights(ha, state) == {state}


def put_in_kitchen(ha: HomeAssistant) -> str:
    """An area "Kitchen" with both lights in it (areas live in the registry, not YAML); its id."""
    areas = {a["name"]: a["area_id"] for a in ha.command("config/area_registry/list")}
    area_id = areas.get("Kitchen") or ha.command("config/area_registry/create", name="Kitchen")["area_id"]
    for light in KITCHEN:
        ha.command("config/entity_registry/update", entity_id=light, area_id=area_id)
    return area_id
