"""Timer events from Home Assistant: logged, and a chime (or --timer-finished-wav) when one finishes."""

import logging

from wyoming.event import Event
from wyoming.timer import TimerCancelled, TimerFinished, TimerStarted, TimerUpdated

from .sounds import Sounds

_LOGGER = logging.getLogger(__name__)


def on_timer_event(event: Event, sounds: Sounds) -> None:
    """Log the timer change; play the timer sound on `timer-finished`. Bad data raises KeyError/TypeError."""
    if TimerStarted.is_type(event.type):
        timer = TimerStarted.from_event(event)
        _LOGGER.info("timer %s started: %d s%s", timer.id, int(timer.total_seconds),
                     f" ({timer.name})" if timer.name else "")
    elif TimerUpdated.is_type(event.type):
        timer = TimerUpdated.from_event(event)
        _LOGGER.info("timer %s updated: %d s left, %s", timer.id, int(timer.total_seconds),
                     "running" if timer.is_active else "paused")
    elif TimerCancelled.is_type(event.type):
        _LOGGER.info("timer %s cancelled", TimerCancelled.from_event(event).id)
    elif TimerFinished.is_type(event.type):
        _LOGGER.info("timer %s finished", TimerFinished.from_event(event).id)
        sounds.play("timer")
    else:
        _LOGGER.debug("ignoring %s", event.type)
