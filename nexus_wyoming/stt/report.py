"""Per-utterance metrics and the one JSON log line per transcript: where the time went."""

import time
from typing import TYPE_CHECKING, Optional

from ..metrics import REGISTRY, log_request
from ..status import BOARD

if TYPE_CHECKING:
    from .handler import Turn

_FINAL = REGISTRY.histogram("nexus_stt_final_seconds", "audio-stop to transcript sent")
_FIRST_PARTIAL = REGISTRY.histogram("nexus_stt_first_partial_seconds", "First audio to first transcript-chunk")
_EARLY = REGISTRY.counter("nexus_stt_early_decode_total", "Utterances whose transcript came from the early decode")
_ERRORS = REGISTRY.counter("nexus_stt_errors_total", "Requests answered with an error")


def record_error(code: str) -> None:
    """Count a refused request or failed utterance."""
    _ERRORS.inc(code=code)
    if code in ("stt-failed", "busy"):  # ours, not the client's: the status page shows it
        BOARD.record("stt", ok=False, error=code)


def _ms(seconds: Optional[float]) -> Optional[float]:
    return round(seconds * 1000, 1) if seconds is not None else None


def record_transcript(turn: "Turn", text: str, peer: str) -> None:
    """Metrics and log line once the transcript has been sent."""
    now = time.perf_counter()
    utterance = turn.utterance
    assert utterance is not None
    engine = getattr(getattr(utterance.session, "engine", None), "name", None) or "unknown"
    final_s = now - turn.stopped if turn.stopped is not None else None
    if final_s is not None:
        _FINAL.observe(final_s, engine=engine, early=str(utterance.used_early).lower())
    first_partial_s = None
    if turn.stream.first_partial_at is not None:
        first_partial_s = turn.stream.first_partial_at - turn.started
        _FIRST_PARTIAL.observe(first_partial_s)
    _EARLY.inc(used=str(utterance.used_early).lower())
    ready_before_stop = None
    if utterance.used_early and utterance.early_done_at is not None and turn.stopped is not None:
        ready_before_stop = turn.stopped - utterance.early_done_at
    endpointer = utterance.endpointer
    trailing = endpointer.trailing_silence_ms if endpointer is not None else None
    log_request(
        "stt",
        peer=peer,
        engine=engine,
        language=turn.transcribe.request.language,
        names=len(turn.transcribe.request.names) or None,
        audio_s=round(turn.seconds, 2),
        chars=len(text),
        ended_by="client" if turn.stopped is not None else "server",
        final_ms=_ms(final_s),
        early=utterance.used_early,
        early_decodes=utterance.early_decodes,
        early_ready_before_stop_ms=_ms(ready_before_stop),
        trailing_silence_ms=trailing,
        partials=turn.stream.chunks,
        first_partial_ms=_ms(first_partial_s),
    )
    BOARD.record("stt", now - turn.started, provider=engine, early=utterance.used_early, stages={"stt": _ms(final_s)})
