"""The last few requests of this process, for the status page: who asked, how long each stage took.

Recording is a deque append on the request path (no I/O, no lock): the status page and
`/api/status` read a copy. Stage names are shared by the three servers so the page can
line one turn up across them: `stt` (audio-stop → transcript), `search`,
`llm_first_token`, `total` (intent turn), `tts_first_audio`.
"""

import itertools
import math
import os
import re
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

CAPACITY = 200
HEALTH_WINDOW_S = 300.0
MAX_DEVICE_CHARS = 128
MAX_TEXT_CHARS = 64
_PEER = re.compile(r"(:\d{1,5}|https?://[A-Za-z0-9.\-\[\]:]+)/?")

HealthCheck = Callable[[], Optional[str]]


@dataclass(frozen=True)
class TurnRecord:
    """One request as the status page shows it; times are Unix seconds, stages milliseconds."""

    id: str
    server: str
    started: float
    ended: float
    ok: bool = True
    device: Optional[str] = None
    error: Optional[str] = None
    provider: Optional[str] = None
    fallbacks: int = 0
    stages: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def _short(value: Any, limit: int = MAX_TEXT_CHARS) -> Optional[str]:
    """A printable string of at most `limit` characters, else None (values may come from the LAN)."""
    if not isinstance(value, str) or not value or len(value) > limit or not value.isprintable():
        return None
    return value


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return round(float(value), 1)


def _scalar(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return _number(value)
    return _short(value)


class StatusBoard:
    """The recent requests of one process plus the health checks its server registered."""

    def __init__(self, capacity: int = CAPACITY, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.started = clock()
        self._turns: deque[TurnRecord] = deque(maxlen=capacity)
        self._checks: list[HealthCheck] = []
        self._ids = itertools.count(1)

    def record(self, server: str, duration_s: float = 0.0, *, ok: bool = True, device: Any = None,
               error: Optional[str] = None, provider: Optional[str] = None, fallbacks: int = 0,
               stages: Optional[dict[str, Any]] = None, **details: Any) -> TurnRecord:
        """Keep one finished request that began `duration_s` ago; None values are left out."""
        now = self.clock()
        duration = _number(duration_s) or 0.0
        turn = TurnRecord(
            id=f"{server}-{os.getpid()}-{next(self._ids)}", server=server, started=now - max(duration, 0.0),
            ended=now, ok=bool(ok), device=_short(device, MAX_DEVICE_CHARS), error=_short(error),
            provider=_short(provider), fallbacks=max(int(fallbacks or 0), 0),
            stages={k: n for k, v in (stages or {}).items() if (n := _number(v)) is not None and n >= 0},
            details={k: s for k, v in details.items() if (s := _scalar(v)) is not None},
        )
        self._turns.append(turn)
        return turn

    def add_check(self, check: HealthCheck) -> None:
        """A callable that returns why the server is degraded (e.g. "redis down"), or None."""
        self._checks.append(check)

    def turns(self) -> list[TurnRecord]:
        """Newest first."""
        return list(reversed(self._turns))

    def health(self) -> dict[str, Any]:
        """ok, or degraded with the reasons: failed checks, recent errors, recent provider fallbacks."""
        reasons = []
        for check in list(self._checks):
            try:
                reason = check()
            except Exception as err:  # a broken check must not break the page
                reason = f"health check failed: {type(err).__name__}"
            if reason:
                reasons.append(reason)
        cutoff = self.clock() - HEALTH_WINDOW_S
        recent = [t for t in self._turns if t.ended >= cutoff]
        failed = [t for t in recent if not t.ok]
        if failed:
            codes = ", ".join(sorted({t.error or "error" for t in failed}))
            reasons.append(f"{len(failed)} of {len(recent)} requests failed in the last 5 min ({codes})")
        fell_back = [t for t in recent if t.fallbacks]
        if fell_back:
            reasons.append(f"provider fallbacks in {len(fell_back)} of {len(recent)} requests in the last 5 min")
        return {"status": "degraded" if reasons else "ok", "reasons": reasons}

    def providers(self) -> tuple[Optional[str], dict[str, int]]:
        """The provider/engine of the latest successful request, and use counts over the recent ones."""
        turns = self.turns()
        latest = next((t.provider for t in turns if t.ok and t.provider), None)
        return latest, dict(Counter(t.provider for t in turns if t.provider))


def parse_peers(values: list[str]) -> list[str]:
    """Peer status URLs: `:PORT` (same host as the page) or `http(s)://HOST[:PORT]`; ValueError otherwise."""
    peers = []
    for value in values:
        if not isinstance(value, str) or not _PEER.fullmatch(value.strip()):
            raise ValueError(f"status_peers: {value!r} is not ':PORT' or 'http(s)://HOST[:PORT]'")
        value = value.strip().rstrip("/")
        if value.startswith(":") and not 0 < int(value[1:]) < 65536:
            raise ValueError(f"status_peers: port {value[1:]} is out of range")
        peers.append(value)
    return peers


@dataclass(frozen=True)
class StatusReport:
    """What `/api/status` answers for one server process."""

    kind: str
    version: str
    peers: list[str]
    board: "StatusBoard"

    def to_json(self) -> dict[str, Any]:
        """The JSON document: server, version, uptime, health, provider in use, recent turns."""
        now = self.board.clock()
        provider, used = self.board.providers()
        return {
            "server": self.kind, "version": self.version, "now": now, "started": self.board.started,
            "uptime_s": round(now - self.board.started, 1), "health": self.board.health(),
            "provider": provider, "providers_recent": used, "peers": self.peers,
            "turns": [asdict(t) for t in self.board.turns()],
        }


#: This process's board: servers record into it, the metrics port serves it.
BOARD = StatusBoard()
