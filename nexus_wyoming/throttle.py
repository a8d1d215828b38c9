"""Log lines that a LAN client can cause, at most one per kind and window, with a count.

A client that opens 10,000 refused connections or sends garbage frames must not turn
our log into its amplifier: the first line of a kind is logged at once, repeats within
`every_s` are only counted, and the next line after the window carries that count.
"""

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class _Window:
    since: float
    suppressed: int = 0


class ThrottledLog:
    """A logger's warning/info, throttled per key (e.g. the kind of line plus the peer's address)."""

    def __init__(self, logger: logging.Logger, every_s: float = 60.0, max_keys: int = 1024,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.every_s = every_s
        self.max_keys = max_keys
        self.clock = clock
        self._windows: "OrderedDict[str, _Window]" = OrderedDict()

    def warning(self, key: str, message: str, *args: Any) -> bool:
        """Log unless a line of this key went out within the window; True when logged."""
        return self.log(logging.WARNING, key, message, *args)

    def info(self, key: str, message: str, *args: Any) -> bool:
        """As warning(), at INFO."""
        return self.log(logging.INFO, key, message, *args)

    def log(self, level: int, key: str, message: str, *args: Any) -> bool:
        """Log at `level` unless throttled; the first line after a window says how many were held back."""
        now = self.clock()
        window = self._windows.get(key)
        if window is not None and now - window.since < self.every_s:
            window.suppressed += 1
            return False
        if window is not None and window.suppressed:
            message += f" (and {window.suppressed} more like it in the last {now - window.since:.0f} s)"
        self._windows[key] = _Window(now)
        self._windows.move_to_end(key)
        while len(self._windows) > self.max_keys:
            self._windows.popitem(last=False)
        self.logger.log(level, message, *args)
        return True
