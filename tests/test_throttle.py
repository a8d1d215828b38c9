"""Throttled log lines: the first at once, repeats counted, the count reported after the window."""

import logging

from nexus_wyoming.throttle import ThrottledLog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_repeats_within_the_window_are_counted_and_reported_once(caplog):
    clock = Clock()
    log = ThrottledLog(logging.getLogger("t"), every_s=60, clock=clock)
    caplog.set_level(logging.INFO)
    assert log.warning("refused 10.0.0.9", "refusing %s", "10.0.0.9")
    for _ in range(12_935):
        clock.now += 0.001
        assert not log.warning("refused 10.0.0.9", "refusing %s", "10.0.0.9")
    clock.now = 61
    assert log.warning("refused 10.0.0.9", "refusing %s", "10.0.0.9")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["refusing 10.0.0.9", "refusing 10.0.0.9 (and 12935 more like it in the last 61 s)"]


def test_keys_are_separate_and_bounded(caplog):
    clock = Clock()
    log = ThrottledLog(logging.getLogger("t"), every_s=60, max_keys=3, clock=clock)
    caplog.set_level(logging.INFO)
    assert log.info("a", "a") and log.info("b", "b") and not log.info("a", "a")
    for key in ("c", "d", "e"):
        log.info(key, key)
    assert len(log._windows) == 3
    assert log.info("a", "a")  # forgotten when the table was full: logged again, never an error
