"""The intent ("handle") server: offline skills, modes, LLM providers with fallback, web search."""
