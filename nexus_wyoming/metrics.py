"""Per-request latency histograms in Prometheus text format, served on `--metrics-port`.

Small on purpose: a histogram is a list of bucket counters, the HTTP server answers
GET /metrics (and, for a server process, the status page `/` and `/api/status`), and
every request of ours also writes one JSON log line.
"""

import asyncio
import bisect
import json
import logging
import math
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from .status import StatusReport

_LOGGER = logging.getLogger(__name__)
_REQUEST_LOGGER = logging.getLogger("nexus_wyoming.requests")

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)
RATIO_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels_text(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(labels.items())) + "}"


@dataclass
class Histogram:
    """Cumulative histogram per label set, as Prometheus expects."""

    name: str
    help: str
    buckets: tuple[float, ...] = LATENCY_BUCKETS_S
    _series: dict[tuple, list] = field(default_factory=dict)

    def observe(self, value: float, **labels: str) -> None:
        """Record one value."""
        if math.isnan(value):
            return
        key = tuple(sorted(labels.items()))
        counts = self._series.setdefault(key, [[0] * (len(self.buckets) + 1), 0.0])
        counts[0][bisect.bisect_left(self.buckets, value)] += 1
        counts[1] += value

    def render(self) -> list[str]:
        """Prometheus text lines."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for key, (counts, total) in sorted(self._series.items()):
            labels = dict(key)
            running = 0
            for bound, count in zip((*self.buckets, math.inf), counts):
                running += count
                le = "+Inf" if bound == math.inf else repr(bound)
                lines.append(f"{self.name}_bucket{_labels_text({**labels, 'le': le})} {running}")
            lines.append(f"{self.name}_sum{_labels_text(labels)} {total}")
            lines.append(f"{self.name}_count{_labels_text(labels)} {running}")
        return lines


@dataclass
class Counter:
    """A monotonically increasing count per label set."""

    name: str
    help: str
    _series: dict[tuple, float] = field(default_factory=dict)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        """Add to the count."""
        key = tuple(sorted(labels.items()))
        self._series[key] = self._series.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        """Current count, for tests and status pages."""
        return self._series.get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> list[str]:
        """Prometheus text lines."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        lines += [f"{self.name}{_labels_text(dict(k))} {v}" for k, v in sorted(self._series.items())]
        return lines


class Registry:
    """All metrics of one process."""

    def __init__(self) -> None:
        self._metrics: dict[str, Any] = {}
        self._lock = threading.Lock()

    def histogram(self, name: str, help: str, buckets: tuple[float, ...] = LATENCY_BUCKETS_S) -> Histogram:
        """Get or create a histogram."""
        with self._lock:
            return self._metrics.setdefault(name, Histogram(name, help, buckets))

    def counter(self, name: str, help: str) -> Counter:
        """Get or create a counter."""
        with self._lock:
            return self._metrics.setdefault(name, Counter(name, help))

    def render(self) -> str:
        """The whole exposition text."""
        lines: list[str] = []
        for metric in list(self._metrics.values()):
            lines += metric.render()
        return "\n".join(lines) + "\n"


REGISTRY = Registry()


def log_request(request: str, **fields: Any) -> None:
    """One JSON line per request: what a person or a log pipeline reads first."""
    record = {"request": request, **{k: v for k, v in fields.items() if v is not None}}
    _REQUEST_LOGGER.info(json.dumps(record, ensure_ascii=False, default=str))


class MetricsServer:
    """GET /metrics in Prometheus text format; with a `status`, also `/` and `/api/status`; else 404."""

    def __init__(self, port: int, host: str = "0.0.0.0", registry: Registry = REGISTRY,
                 status: Optional["StatusReport"] = None) -> None:
        self.port = port
        self.host = host
        self.registry = registry
        self.status = status
        self._server: Optional[asyncio.AbstractServer] = None

    async def start(self) -> int:
        """Listen; returns the real port."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=8192)
        self.port = self._server.sockets[0].getsockname()[1]
        _LOGGER.info("metrics on http://%s:%d/metrics", self.host, self.port)
        if self.status is not None:
            _LOGGER.info("status page on http://%s:%d/", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                request = await reader.readuntil(b"\r\n\r\n")
            parts = request.split(b" ", 2)
            path = parts[1].split(b"?")[0] if len(parts) > 1 else b""
            headers = "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            if parts[0] == b"GET" and path == b"/metrics":
                status, body = "200 OK", self.registry.render().encode()
            elif parts[0] == b"GET" and self.status is not None and path in (b"/", b"/api/status"):
                status, headers, body = "200 OK", *self._status_response(path, request)
            else:
                status, body = "404 Not Found", b"not found\n"
            writer.write(
                f"HTTP/1.1 {status}\r\n{headers}"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def _status_response(self, path: bytes, request: bytes) -> tuple[str, bytes]:
        """The status page, or its JSON (readable by the sibling servers' pages on this host only)."""
        from .status_page import PAGE_HEADERS, page

        assert self.status is not None
        if path == b"/":
            return PAGE_HEADERS, page()
        body = json.dumps(self.status.to_json(), ensure_ascii=False, allow_nan=False).encode()
        origin = sibling_origin(request)
        cors = f"Access-Control-Allow-Origin: {origin}\r\nVary: Origin\r\n" if origin else "Vary: Origin\r\n"
        return ("Content-Type: application/json; charset=utf-8\r\n" + cors +
                "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n", body)


def sibling_origin(request: bytes) -> Optional[str]:
    """The request's Origin when it is this same host on another port (a peer's status page), else None.

    Device ids and turn timings are readable cross-origin only by our own pages, not by
    any web page a browser on the LAN happens to open.
    """
    fields = {}
    for line in request.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    origin, host = fields.get("origin", ""), fields.get("host", "")
    match = re.fullmatch(r"https?://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?", origin)
    host_name = re.sub(r":\d{1,5}$", "", host)
    return origin if match and host_name and match.group(1).lower() == host_name.lower() else None
