"""What each turn measured: Prometheus metrics and one JSON log line per turn."""

import time
from dataclasses import dataclass, field
from typing import Optional

from ..metrics import REGISTRY, log_request
from ..status import BOARD

_TURN = REGISTRY.histogram("nexus_intent_turn_seconds", "Transcript to final reply")
_FIRST_SENTENCE = REGISTRY.histogram("nexus_intent_first_sentence_seconds", "Transcript to the first sentence sent")
_FIRST_TOKEN = REGISTRY.histogram("nexus_intent_llm_first_token_seconds", "LLM request to its first text")
_SEARCH = REGISTRY.histogram("nexus_intent_search_seconds", "Web search time (as long as it was waited for)")
_RATE = REGISTRY.histogram("nexus_intent_llm_tokens_per_second", "LLM generation speed after the first token",
                           (10, 25, 50, 100, 200, 400, 800, 1600, 3200))
_TURNS = REGISTRY.counter("nexus_intent_turns_total", "Turns by how they were answered")
_CACHE = REGISTRY.counter("nexus_intent_response_cache_total", "Response cache lookups by result")
_TURN_FALLBACKS = REGISTRY.counter("nexus_intent_turn_fallbacks_total", "LLM providers given up on, per turn")


@dataclass
class TurnStats:
    """Filled in while a turn runs."""

    started: float = field(default_factory=time.perf_counter)
    mode: str = ""
    route: str = ""  # home-assistant | skill:<name> | cache | llm | llm-capped | llm-partial | llm-failed
    # | llm-empty | no-model | paid-limit | busy | refused
    handled: Optional[bool] = None
    device: Optional[str] = None
    conversation_id: Optional[str] = None
    chars_in: int = 0
    chars_out: int = 0
    search: str = "skipped"
    search_ms: Optional[float] = None
    provider: Optional[str] = None
    llm_started: Optional[float] = None
    first_token: Optional[float] = None
    last_token: Optional[float] = None
    tokens: int = 0
    fallbacks: int = 0
    cache: Optional[str] = None  # "hit" | "miss" | None (not looked up)
    home_assistant: Optional[str] = None  # handled | declined | unreachable | resting; None: no bridge
    home_assistant_ms: Optional[float] = None
    first_sentence: Optional[float] = None
    stored: Optional[bool] = None
    client_gone: bool = False

    def token(self, provider: str, text: str, fallbacks: int, completion_tokens: Optional[int],
              at: Optional[float] = None) -> None:
        """Note a chunk of the LLM's answer (that arrived `at`, by perf_counter)."""
        now = time.perf_counter() if at is None else at
        self.provider, self.fallbacks = provider, fallbacks
        if text:
            self.first_token = self.first_token or now
            self.last_token = now
            self.tokens += 1
        if completion_tokens is not None:
            self.tokens = completion_tokens

    def sentence_sent(self) -> None:
        """Note the first sentence going out."""
        self.first_sentence = self.first_sentence or time.perf_counter()

    @property
    def first_token_s(self) -> Optional[float]:
        if self.first_token is None or self.llm_started is None:
            return None
        return self.first_token - self.llm_started

    @property
    def tokens_per_s(self) -> Optional[float]:
        if self.first_token is None or self.last_token is None or self.tokens < 2:
            return None
        span = self.last_token - self.first_token
        return (self.tokens - 1) / span if span > 0 else None

    def latencies(self) -> dict[str, float]:
        """Stage latencies (ms) stored with the reply."""
        found = {"total_ms": _ms(time.perf_counter() - self.started), "search_ms": self.search_ms,
                 "first_token_ms": _ms(self.first_token_s), "first_sentence_ms": _ms(self._since(self.first_sentence))}
        return {k: v for k, v in found.items() if v is not None}

    def _since(self, moment: Optional[float]) -> Optional[float]:
        return None if moment is None else moment - self.started

    def record(self, peer: str) -> None:
        """Metrics and the JSON log line, once the turn is over."""
        total = time.perf_counter() - self.started
        labels = {"mode": self.mode or "none", "route": self.route.split(":")[0] or "none"}
        _TURN.observe(total, **labels)
        _TURNS.inc(route=self.route or "none")
        if self.first_sentence is not None:
            _FIRST_SENTENCE.observe(self.first_sentence - self.started, **labels)
        if self.first_token_s is not None:
            _FIRST_TOKEN.observe(self.first_token_s, provider=self.provider or "none")
        if self.tokens_per_s is not None:
            _RATE.observe(self.tokens_per_s, provider=self.provider or "none")
        if self.search_ms is not None:
            _SEARCH.observe(self.search_ms / 1000, status=self.search)
        if self.cache is not None:
            _CACHE.inc(result=self.cache)
        if self.fallbacks:
            _TURN_FALLBACKS.inc(self.fallbacks)
        log_request(
            "intent", peer=peer, mode=self.mode or None, route=self.route, handled=self.handled,
            device_id=self.device, conversation_id=self.conversation_id, chars_in=self.chars_in,
            chars_out=self.chars_out, search=self.search, search_ms=_round(self.search_ms),
            provider=self.provider, first_token_ms=_ms(self.first_token_s),
            tokens=self.tokens or None, tokens_per_s=_round(self.tokens_per_s), fallbacks=self.fallbacks,
            cache_hit=None if self.cache is None else self.cache == "hit",
            home_assistant=self.home_assistant, home_assistant_ms=self.home_assistant_ms,
            first_sentence_ms=_ms(self._since(self.first_sentence)), total_ms=_ms(total), stored=self.stored,
            client_gone=self.client_gone or None,
        )
        internal = self.handled is None and not self.client_gone
        error = "llm-failed" if self.route == "llm-failed" else "internal" if internal else None
        BOARD.record("intent", total, ok=error is None, error=error, device=self.device, provider=self.provider,
                     fallbacks=self.fallbacks, mode=self.mode or None, route=self.route or None,
                     cache_hit=None if self.cache is None else self.cache == "hit", client_gone=self.client_gone or None,
                     stages={"search": self.search_ms, "llm_first_token": _ms(self.first_token_s), "total": _ms(total),
                             "first_sentence": _ms(self._since(self.first_sentence))})


def _ms(seconds: Optional[float]) -> Optional[float]:
    return None if seconds is None else round(seconds * 1000, 1)


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 1)
