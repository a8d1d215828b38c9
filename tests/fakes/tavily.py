"""A local Tavily search API (`POST /search`): Bearer auth, body checks, the real answer and error shapes.

Use: `async with FakeTavily() as fake:` and point a client at `fake.url` with
`fake.api_key`. Switches: `delay_s` (answer time), `fail_status` (401/429/432/500
with Tavily's `{"detail": {"error"}}`), `not_json`, `silent` (never answers).
`results` are what a search returns (each gets the query in its content).
"""

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

from .http11 import Exchange, HttpFake, HttpRequest

DEFAULT_RESULTS = [
    {"title": "Weather in Springfield", "url": "https://weather.example/springfield",
     "content": "Sunny, 21 degrees Celsius, light wind from the west."},
    {"title": "Springfield forecast - Example News", "url": "https://news.example/forecast",
     "content": "Clouds arrive tomorrow afternoon with a chance of rain."},
    {"title": "Third result", "url": "https://third.example/", "content": "Never asked for with max_results 2."},
]
_ERRORS = {401: "Unauthorized: missing or invalid API key.",
           429: "Your request has been blocked due to excessive requests.",
           432: "This request exceeds your plan's set usage limit.",
           500: "Internal Server Error"}


@dataclass
class FakeTavily(HttpFake):
    """A Tavily look-alike on 127.0.0.1."""

    api_key: str = "tvly-fake-key"
    results: list[dict[str, Any]] = field(default_factory=lambda: [dict(r) for r in DEFAULT_RESULTS])
    delay_s: float = 0.0
    fail_status: Optional[int] = None
    not_json: bool = False
    silent: bool = False
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/search"

    @property
    def queries(self) -> list[dict]:
        """The JSON bodies received."""
        return [r.json() for r in self.requests]

    async def answer(self, request: HttpRequest, exchange: Exchange) -> bool:
        started = time.perf_counter()
        if request.method != "POST" or request.path != "/search":
            await exchange.json(404, {"detail": "Not Found"})
            return True
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            await exchange.json(401, {"detail": {"error": _ERRORS[401]}})
            return True
        problem = _check(request)
        if problem:
            await exchange.json(400, {"detail": {"error": problem}})
            return True
        if self.silent or self.delay_s:
            waited = asyncio.create_task(asyncio.sleep(1e9 if self.silent else self.delay_s))
            gone = asyncio.create_task(exchange.gone.wait())
            await asyncio.wait({waited, gone}, return_when=asyncio.FIRST_COMPLETED)
            waited.cancel()
            gone.cancel()
            if exchange.gone.is_set():
                self.cancelled.set()
                return False
        if self.fail_status is not None:
            await exchange.json(self.fail_status, {"detail": {"error": _ERRORS.get(self.fail_status, "Error")}})
            return True
        if self.not_json:
            page = b"<html>oops</html>"
            exchange.head(200, {"content-type": "text/html", "content-length": str(len(page))})
            exchange.writer.write(page)
            await exchange.writer.drain()
            return False
        body = request.json()
        results = [{**r, "score": 0.9 - i / 10, "raw_content": None} if isinstance(r, dict) else r
                   for i, r in enumerate(self.results[: body.get("max_results", 5)])]
        await exchange.json(200, {"query": body["query"], "follow_up_questions": None, "answer": None,
                                  "images": [], "results": results,
                                  "response_time": f"{time.perf_counter() - started:.2f}",
                                  "request_id": str(uuid.uuid4())})
        return True


def _check(request: HttpRequest) -> Optional[str]:
    try:
        body = request.json()
    except ValueError:
        return "Invalid JSON body."
    if not isinstance(body, dict) or not isinstance(body.get("query"), str) or not body["query"].strip():
        return "Query is missing or empty."
    if len(body["query"]) > 400:
        return "Query is too long. Max query length is 400 characters."
    if body.get("search_depth", "basic") not in ("basic", "advanced"):
        return "Invalid search depth. Must be 'basic' or 'advanced'."
    max_results = body.get("max_results", 5)
    if not isinstance(max_results, int) or not 0 <= max_results <= 20:
        return "max_results must be between 0 and 20."
    return None
