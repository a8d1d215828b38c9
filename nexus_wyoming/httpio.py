"""Reading an HTTP answer body without trusting its size: a provider (or something
posing as one) must not make us buffer an endless body."""

from typing import Optional

import httpx


async def read_at_most(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Up to `limit` bytes of a streamed body, and whether there was more (reading stops there)."""
    body = b""
    async for piece in response.aiter_bytes():
        body += piece
        if len(body) > limit:
            return body[:limit], True
    return body, False


def retry_after_s(value: Optional[str]) -> Optional[float]:
    """Seconds from a `retry-after` header (delta-seconds form); None when absent or unusable."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 86400 else None
