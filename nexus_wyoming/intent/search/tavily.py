"""Tavily web search (`POST https://api.tavily.com/search`, `Authorization: Bearer tvly-...`).

Body: `query`, `max_results` (2 by default), `search_depth` ("basic", 1 credit), no
generated answer, no raw content. Answer: `{"query", "results": [{"title", "url",
"content", "score", ...}], "response_time", ...}`; errors are an HTTP status
(401 bad key, 429 rate limit, 432/433 plan limits, 5xx) with `{"detail": {"error"}}`.
"""

import json
from typing import Any

import httpx

from ...httpio import read_at_most
from .provider import SearchError, SearchResult

#: Tavily refuses longer queries; a spoken question is far shorter anyway.
MAX_QUERY_CHARS = 400
_MAX_CONTENT_CHARS = 600
_MAX_TITLE_CHARS = 200
_MAX_BODY_BYTES = 512 * 1024


class TavilySearch:
    """A Tavily client sharing one connection pool across requests."""

    name = "tavily"

    def __init__(self, url: str, api_key: str, max_results: int = 2, search_depth: str = "basic",
                 timeout_s: float = 5.0) -> None:
        self.url = url
        self.max_results = max_results
        self.search_depth = search_depth
        self._client = httpx.AsyncClient(headers={"Authorization": f"Bearer {api_key}"},
                                         timeout=httpx.Timeout(timeout_s))

    def body(self, query: str) -> dict[str, Any]:
        """The JSON request body."""
        return {"query": query[:MAX_QUERY_CHARS], "max_results": self.max_results,
                "search_depth": self.search_depth, "include_answer": False, "include_raw_content": False,
                "include_images": False}

    async def search(self, query: str) -> list[SearchResult]:
        """The results, most relevant first; SearchError on any failure."""
        try:
            async with self._client.stream("POST", self.url, json=self.body(query)) as response:
                body = await _read_bounded(response)
        except httpx.HTTPError as err:
            raise SearchError(f"tavily: {type(err).__name__}: {err}") from err
        if response.status_code != 200:
            raise SearchError(f"tavily: HTTP {response.status_code}: {_detail(body)}")
        try:
            payload = json.loads(body)
        except ValueError as err:
            raise SearchError("tavily: the answer is not JSON") from err
        results = payload.get("results") if isinstance(payload, dict) else None
        if not isinstance(results, list):
            raise SearchError("tavily: the answer has no results list")
        return [r for r in map(_result, results[: self.max_results]) if r is not None]

    async def close(self) -> None:
        await self._client.aclose()


async def _read_bounded(response: httpx.Response) -> bytes:
    body, more = await read_at_most(response, _MAX_BODY_BYTES)
    if more:
        raise SearchError(f"tavily: answer larger than {_MAX_BODY_BYTES} bytes")
    return body


def _result(item: Any) -> SearchResult | None:
    """A result with text, or None for an entry that has none."""
    if not isinstance(item, dict):
        return None
    title, url, content = (item.get(k) for k in ("title", "url", "content"))
    if not isinstance(content, str) or not content.strip():
        return None
    title = title if isinstance(title, str) and title.strip() else (url if isinstance(url, str) else "untitled")
    return SearchResult(" ".join(title.split())[:_MAX_TITLE_CHARS], url if isinstance(url, str) else "",
                        " ".join(content.split())[:_MAX_CONTENT_CHARS])


def _detail(body: bytes) -> str:
    """Tavily's `{"detail": {"error": ...}}` message, or the start of the body."""
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace")
    if isinstance(detail, dict) and isinstance(detail.get("error"), str):
        return detail["error"][:200]
    return str(detail)[:200]
