"""LLM providers: one streaming OpenAI-compatible client and a fallback chain over several."""
