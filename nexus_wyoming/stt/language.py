"""Language codes as clients send them ('en', 'en-US', 'en_US') and as engines know them ('en')."""

from typing import Optional


def base_language(language: Optional[str]) -> Optional[str]:
    """'en-US' / 'en_US' → 'en'; None stays None (the engine detects the language)."""
    if not language:
        return None
    return language.replace("_", "-").split("-", 1)[0].lower()


def supports(languages: list[str], language: Optional[str]) -> bool:
    """True when an engine offering `languages` can take a request in `language`."""
    return language is None or base_language(language) in {base_language(known) for known in languages}
