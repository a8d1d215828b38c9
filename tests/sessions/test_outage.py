"""Backoff and outage logging: one warning per outage, doubling waits, reset on success."""

import logging

from nexus_wyoming.sessions.outage import Backoff, Outage
from tests.sessions.conftest import Clock


def test_backoff_doubles_up_to_the_maximum_and_resets():
    clock = Clock(0.0)
    backoff = Backoff(max_s=1.0, first_s=0.25, clock=clock)
    assert backoff.ready()
    for wait in [0.25, 0.5, 1.0, 1.0, 1.0]:
        backoff.failed()
        clock.advance(wait - 0.001)
        assert not backoff.ready()
        clock.advance(0.002)
        assert backoff.ready()
    backoff.succeeded()
    assert backoff.ready()
    backoff.failed()
    assert not backoff.ready()
    clock.advance(0.25)
    assert backoff.ready()


def test_one_warning_per_outage(caplog):
    caplog.set_level(logging.DEBUG)
    outage = Outage("redis", "using the store")
    assert outage.succeeded() is False
    for _ in range(5):
        outage.failed(ConnectionError("refused"))
    assert outage.down
    assert outage.succeeded() is True and not outage.down
    outage.failed(TimeoutError("slow"))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["redis unavailable (ConnectionError: refused); using the store until it is back",
                        "redis unavailable (TimeoutError: slow); using the store until it is back"]
    assert any("is back" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
