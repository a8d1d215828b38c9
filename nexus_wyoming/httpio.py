"""Reading an HTTP answer body without trusting its size: a provider (or something
posing as one) must not make us buffer an endless body."""

import httpx


async def read_at_most(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Up to `limit` bytes of a streamed body, and whether there was more (reading stops there)."""
    body = b""
    async for piece in response.aiter_bytes():
        body += piece
        if len(body) > limit:
            return body[:limit], True
    return body, False
