"""One turn, start to finish: skills, response cache, web search, the LLM chain, memory.

`Assistant.reply()` yields `Sentence`s as soon as each is complete (the first may be
an opening clause, so speech can start early) and ends with one `Final`: the whole
reply and whether it was handled. The turn is committed to the session store before
the `Final` is yielded, so a reply the client has seen is never lost. This module
knows nothing about Wyoming.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import AsyncIterator, Mapping, Optional, Union

from ..config import IntentSettings
from ..sessions import USER, Session, SessionManager, cache_key, cacheable
from ..tts.sentences import SentenceBuffer, split_sentences
from ..tts.units import MIN_CLAUSE_CHARS
from .llm import LlmError, LlmProvider, LlmRequest
from .modes import Mode, ModeBook
from .prompt import build_messages
from .request import TurnRequest
from .search.classifier import KeywordClassifier
from .search.policy import SKIPPED, PendingSearch, SearchOutcome
from .search.provider import SearchProvider
from .skills.base import SkillContext, SkillRouter
from .spoken import speakable
from .turnlog import TurnStats

_LOGGER = logging.getLogger(__name__)

DIDNT_CATCH = "Sorry, I didn't catch that."
TOO_LONG = "That was too long for me. Please ask in a few words."
NO_MODEL = "I need an internet model for that, and none is configured."
UNREACHABLE = "Sorry, I can't reach my language model right now. Please try again in a moment."
NO_ANSWER = "Sorry, I don't have an answer for that."
CUT_SHORT = "Sorry, I lost my connection there."
#: The first chunk of a streamed reply is cut at a clause once it is this long, so speech starts early.
FIRST_CHUNK_CHARS = 60


@dataclass(frozen=True)
class Sentence:
    """A piece of the reply that can be spoken now."""

    text: str


@dataclass(frozen=True)
class Final:
    """The whole reply; `handled` False means nothing could answer (the text says why)."""

    text: str
    handled: bool


ReplyPart = Union[Sentence, Final]


class Assistant:
    """Answers turns; shared by all connections of one server."""

    def __init__(self, settings: IntentSettings, book: ModeBook, chains: Mapping[str, LlmProvider],
                 skills: SkillRouter, sessions: SessionManager, search: Optional[SearchProvider] = None,
                 timezone: Optional[tzinfo] = None) -> None:
        self.settings = settings
        self.book = book
        self.chains = chains
        self.skills = skills
        self.sessions = sessions
        self.search = search
        self.classifier = KeywordClassifier(settings.search_keywords)
        self.timezone = timezone

    def now(self) -> datetime:
        """The time for skills and the prompt, in the configured zone."""
        return datetime.now(self.timezone) if self.timezone else datetime.now().astimezone()

    async def reply(self, request: TurnRequest, stats: TurnStats) -> AsyncIterator[ReplyPart]:
        """The reply to one turn, sentence by sentence, then a Final."""
        stats.chars_in, stats.device, stats.conversation_id = len(request.text), request.device, request.conversation_id
        if not request.text:
            stats.route = "refused"
            yield Final(DIDNT_CATCH, handled=False)
            return
        if len(request.text) > self.settings.max_text_chars:
            stats.route = "refused"
            yield Final(TOO_LONG, handled=False)
            return
        session = await self.sessions.begin_turn(request.device)
        mode = self.book.pick(request.mode, session.mode, request.device)
        stats.mode = mode.name
        skill = self.skills.answer(request.text, SkillContext(self.now(), mode.name, self.book.names))
        if skill is not None:
            stats.route = f"skill:{skill.skill}"
            if skill.set_mode:
                session.mode = skill.set_mode
            yield await self._commit(session, request, skill.text, stats)
            return
        async for part in self._answer(session, mode, request, stats):
            yield part

    async def _answer(self, session: Session, mode: Mode, request: TurnRequest,
                      stats: TurnStats) -> AsyncIterator[ReplyPart]:
        needs_search = (mode.search != "off" and self.search is not None
                        and self.classifier.needs_search(request.text))
        turns = sum(1 for m in session.history if m.role == USER)
        key = cache_key(mode.name, request.text, session.context)
        use_cache = cacheable(history_turns=turns, used_search=needs_search)
        if use_cache:
            cached = await self.sessions.cached(key)
            stats.cache = "hit" if cached else "miss"
            if cached:
                stats.route = "cache"
                for sentence in split_sentences(cached):
                    stats.sentence_sent()
                    yield Sentence(sentence)
                yield await self._commit(session, request, cached, stats)
                return
        chain = self.chains[mode.name]
        if not chain.available_for(LlmRequest((), mode.max_tokens, mode.models)):
            stats.route = "no-model"
            yield Final(NO_MODEL, handled=False)
            return
        outcome = await self._search(request.text, mode, stats) if needs_search else SKIPPED
        history = [(m.role, m.text) for m in session.history]
        messages = build_messages(mode, request.text, self.now(), history, session.context, outcome.results)
        llm_request = LlmRequest(messages, mode.max_tokens, mode.models, mode.temperature)
        spoken: list[str] = []
        failed = False
        async for part in self._stream(chain, llm_request, stats, spoken):
            if part is None:
                failed = True
            else:
                yield part
        if not spoken:
            stats.route = "llm-failed" if failed else "llm-empty"
            yield Final(UNREACHABLE if failed else NO_ANSWER, handled=False)
            return
        stats.route = "llm-partial" if failed else "llm"
        text = " ".join(spoken)
        final = await self._commit(session, request, text, stats, partial=failed)
        if use_cache and not failed and not outcome.used:
            await self.sessions.store_response(key, text)
        yield final

    async def _stream(self, chain: LlmProvider, llm_request: LlmRequest, stats: TurnStats,
                      spoken: list[str]) -> AsyncIterator[Optional[Sentence]]:
        """Sentences as the model writes them; a final None marks a failed stream (after text: apology added)."""
        buffer = SentenceBuffer()
        stats.llm_started = time.perf_counter()
        failure: Optional[BaseException] = None
        try:
            async with asyncio.timeout(self.settings.max_reply_s):
                async for chunk in chain.stream(llm_request):
                    stats.token(chunk.provider, chunk.text, chunk.fallbacks, chunk.completion_tokens)
                    pieces = buffer.add(chunk.text)
                    if not pieces and not spoken:
                        opening = buffer.take_opening(MIN_CLAUSE_CHARS, FIRST_CHUNK_CHARS)
                        pieces = [opening] if opening else []
                    for piece in pieces:
                        if (sentence := self._say(piece, spoken, stats)) is not None:
                            yield sentence
        except (LlmError, TimeoutError) as err:
            failure = err
            if isinstance(err, LlmError):
                stats.fallbacks = max(stats.fallbacks, err.fallbacks)
            _LOGGER.warning("llm reply %s: %s", "cut short" if spoken else "failed", err or "took too long")
        for piece in buffer.flush():
            if (sentence := self._say(piece, spoken, stats)) is not None:
                yield sentence
        if failure is not None:
            if spoken:
                spoken.append(CUT_SHORT)
                stats.sentence_sent()
                yield Sentence(CUT_SHORT)
            yield None

    @staticmethod
    def _say(piece: str, spoken: list[str], stats: TurnStats) -> Optional[Sentence]:
        text = speakable(piece)
        if not text:
            return None
        spoken.append(text)
        stats.sentence_sent()
        return Sentence(text)

    async def _search(self, text: str, mode: Mode, stats: TurnStats) -> SearchOutcome:
        assert self.search is not None
        pending = PendingSearch(self.search, text)
        try:
            outcome = await pending.outcome(mode.search_wait_ms / 1000)
        finally:
            await pending.cancel()  # a no-op unless this turn was cancelled meanwhile
        stats.search, stats.search_ms = outcome.status, outcome.ms
        return outcome

    async def _commit(self, session: Session, request: TurnRequest, text: str, stats: TurnStats,
                      partial: bool = False) -> Final:
        """Store the turn, then hand out the Final (the order the sessions rule asks for)."""
        stats.chars_out = len(text)
        stats.stored = await self.sessions.record_turn(session, request.text, text, stats.latencies(), partial)
        return Final(text, handled=True)
