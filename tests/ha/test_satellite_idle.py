"""Runs last in tests/ha (see conftest): the satellite stays connected through a minute of idle
while the other tests kept HA busy, and HA saw no event from it that it does not handle."""

import re
import time

IDLE_S = 60.0


def test_no_disconnect_over_a_minute_idle(home_assistant, satellite):
    idle = time.monotonic() - satellite.last_active
    if idle < IDLE_S:
        time.sleep(IDLE_S - idle)
    log = home_assistant.log()
    assert "Satellite has been disconnected" not in log
    assert "Unexpected event from satellite" not in log
    address = f"Connecting to satellite at {satellite.device.proc.host}:{satellite.device.proc.port}"
    assert log.count(address) == 1, "HA connected to the satellite more than once"
    assert not re.search(r"Home Assistant (dis|re)connected", satellite.device.proc.log), satellite.device.proc.log[-3000:]
    assert home_assistant.rest("GET", f"/api/states/{satellite.entity}").json()["state"] == "idle"
