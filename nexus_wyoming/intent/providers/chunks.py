"""Reading OpenAI-shaped streaming chunks (`chat.completion.chunk`), from a server or llama.cpp."""

from typing import Optional


def delta(event: dict) -> tuple[str, Optional[str]]:
    """Text and finish reason of the first choice ('' and None when absent or malformed)."""
    choices = event.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "", None
    change = choices[0].get("delta")
    content = change.get("content") if isinstance(change, dict) else None
    finish = choices[0].get("finish_reason")
    return (content if isinstance(content, str) else ""), (finish if isinstance(finish, str) else None)


def completion_tokens(event: dict) -> Optional[int]:
    """`usage.completion_tokens`, or Groq's `x_groq.usage.completion_tokens`."""
    for holder in (event, event.get("x_groq")):
        usage = holder.get("usage") if isinstance(holder, dict) else None
        tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
        if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 0:
            return tokens
    return None
