"""Building a real Assistant (real sessions on a temporary SQLite file) around local fakes."""

import contextlib
from typing import AsyncIterator, Optional

from nexus_wyoming.config import (Config, GeminiSettings, GroqSettings, IntentSettings, Keys, LocalLlmSettings,
                                  SessionSettings, TavilySettings)
from nexus_wyoming.intent.assistant import Assistant, Final, Sentence
from nexus_wyoming.intent.modes import load_modes
from nexus_wyoming.intent.request import parse_transcript
from nexus_wyoming.intent.server import build_chains, build_providers, build_search, offline_providers
from nexus_wyoming.intent.skills.catalog import builtin_skills
from nexus_wyoming.intent.turnlog import TurnStats
from nexus_wyoming.sessions import SessionManager
from tests.fakes.openai_sse import FakeOpenAi
from tests.fakes.tavily import FakeTavily


def config_for(data_dir, groq: Optional[FakeOpenAi] = None, gemini: Optional[FakeOpenAi] = None,
               local: Optional[FakeOpenAi] = None, tavily: Optional[FakeTavily] = None, **intent) -> Config:
    """Providers pointed at the given fakes (and only those)."""
    keys = Keys(groq=groq.api_key if groq else None, google=gemini.api_key if gemini else None,
                tavily=tavily.api_key if tavily else None)
    settings = IntentSettings(
        groq=GroqSettings(url=groq.url) if groq else GroqSettings(),
        gemini=GeminiSettings(url=gemini.url) if gemini else GeminiSettings(),
        local=LocalLlmSettings(url=local.url) if local else LocalLlmSettings(),
        tavily=TavilySettings(url=tavily.url) if tavily else TavilySettings(),
        **{"first_token_timeout_s": 1.0, "stream_timeout_s": 5.0, **intent},
    )
    return Config(data_dir=str(data_dir), keys=keys, intent=settings, sessions=SessionSettings())


@contextlib.asynccontextmanager
async def assistant_for(config: Config) -> AsyncIterator[Assistant]:
    """A started Assistant; everything closed afterwards."""
    book = load_modes(config.intent)
    providers = build_providers(config)
    search = build_search(config)
    sessions = SessionManager.from_config(config)
    await sessions.start()
    try:
        offline = build_chains(config, book, offline_providers(providers))
        yield Assistant(config.intent, book, build_chains(config, book, providers), builtin_skills(), sessions, search,
                        offline=offline)
    finally:
        for provider in providers.values():
            await provider.close()
        if search is not None:
            await search.close()
        await sessions.close()


async def turn(assistant: Assistant, text, **context) -> tuple[list[str], Final, TurnStats]:
    """One turn as a client would send it: the sentences, the Final and the stats."""
    request = parse_transcript({"text": text, "context": {"conversation_id": "c1", **context}}, assistant.book.names)
    stats = TurnStats()
    sentences, final = [], None
    async for part in assistant.reply(request, stats):
        if isinstance(part, Sentence):
            sentences.append(part.text)
        else:
            final = part
    assert final is not None
    return sentences, final, stats
