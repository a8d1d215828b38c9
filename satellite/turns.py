"""Per-turn latency: end of speech → first reply audio heard, and each stage's share.

One JSON log line per turn (`request: satellite-turn`) and Prometheus histograms
`nexus_satellite_turn_seconds{mode}` / `nexus_satellite_stage_seconds{mode,stage}`.
"""

import time
from dataclasses import dataclass, field
from typing import Any, Optional

from nexus_wyoming.metrics import REGISTRY, log_request

TURN = REGISTRY.histogram("nexus_satellite_turn_seconds",
                          "Satellite: end of the user's speech to the first reply audio heard")
STAGE = REGISTRY.histogram("nexus_satellite_stage_seconds", "Satellite: one stage of a turn")
TURNS = REGISTRY.counter("nexus_satellite_turns_total", "Satellite turns by outcome")

#: Marks in the order a turn passes them; each stage runs from the previous mark present.
MARKS = ("speech_end", "transcript", "reply_text", "reply_audio", "heard")


@dataclass
class TurnTimer:
    """Monotonic marks of one turn; `finish` logs and records them."""

    mode: str
    device_id: str
    marks: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def mark(self, name: str, at: Optional[float] = None) -> None:
        """Record the first time `name` happened."""
        self.marks.setdefault(name, time.monotonic() if at is None else at)

    def stages(self) -> dict[str, float]:
        """Seconds between consecutive marks that were reached."""
        present = [m for m in MARKS if m in self.marks]
        return {f"{a}_to_{b}": self.marks[b] - self.marks[a] for a, b in zip(present, present[1:])}

    def latency(self) -> Optional[float]:
        """End of speech to first audio heard, when both happened."""
        if "speech_end" in self.marks and "heard" in self.marks:
            return self.marks["heard"] - self.marks["speech_end"]
        return None

    def finish(self, outcome: str) -> dict[str, Any]:
        """Log one JSON line and update the metrics; returns the record."""
        latency = self.latency()
        stages = self.stages()
        if latency is not None:
            TURN.observe(latency, mode=self.mode)
        for name, seconds in stages.items():
            STAGE.observe(seconds, mode=self.mode, stage=name)
        TURNS.inc(mode=self.mode, outcome=outcome)
        share = {name: round(s / latency, 3) for name, s in stages.items()} if latency else None
        record = {
            "mode": self.mode, "device_id": self.device_id, "outcome": outcome,
            "speech_end_to_heard_s": None if latency is None else round(latency, 3),
            "stages_s": {k: round(v, 3) for k, v in stages.items()}, "share": share, **self.info,
        }
        log_request("satellite-turn", **record)
        return record
