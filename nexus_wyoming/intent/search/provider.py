"""The small interface of a web search provider; what it returns goes into the prompt."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SearchResult:
    """One web page that answers the query."""

    title: str
    url: str
    content: str


class SearchError(Exception):
    """The search failed (network, key, quota, malformed answer); the reply goes on without it."""


class SearchProvider(Protocol):
    """Looks a query up on the web."""

    name: str

    async def search(self, query: str) -> list[SearchResult]:
        """The best results, most relevant first; SearchError on failure."""

    async def close(self) -> None:
        """Release connections."""
