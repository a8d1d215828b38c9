"""Conversation memory per satellite device or conversation: history store (SQLite /
PostgreSQL), Redis cache, device contexts and the response cache. The intent server uses:

    device = device_key(transcript.context)
    session = await sessions.begin_turn(device, mode, conversation_id)  # history + context loaded
    ...
    await sessions.record_turn(session, text, reply, latencies, partial=False)
"""

from .context import MAX_CONTEXT_CHARS, ContextRefused, render_context, sanitize_context
from .events import (
    CONTEXT_UPDATED_TYPE,
    UPDATE_CONTEXT_TYPE,
    ContextUpdated,
    UpdateContext,
    handle_update_context,
)
from .identity import (
    CONVERSATION_PREFIX, DEVICE_FIELDS, SATELLITE_DEVICE_FIELD, clean_conversation, clean_device, device_key,
    session_key,
)
from .manager import LOST_WRITES, SessionManager, StoreUnavailable, history_url
from .model import ASSISTANT, USER, DeviceSummary, Message, Session
from .response_cache import cache_key, cacheable, normalize_query
from .schema import SchemaError

__all__ = [
    "ASSISTANT", "CONTEXT_UPDATED_TYPE", "CONVERSATION_PREFIX", "DEVICE_FIELDS", "LOST_WRITES",
    "MAX_CONTEXT_CHARS", "SATELLITE_DEVICE_FIELD", "UPDATE_CONTEXT_TYPE", "USER", "ContextRefused",
    "ContextUpdated", "DeviceSummary", "Message", "SchemaError", "Session", "SessionManager", "StoreUnavailable",
    "UpdateContext", "cache_key", "cacheable", "clean_conversation", "clean_device", "device_key",
    "handle_update_context", "history_url", "normalize_query", "render_context", "sanitize_context", "session_key",
]
