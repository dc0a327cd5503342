"""Input checks every service needs before a value reaches PostgreSQL."""

from __future__ import annotations

__all__ = ["is_storable_text"]


def is_storable_text(text: str) -> bool:
    """Whether PostgreSQL can store `text`: it refuses NUL, and JSON can carry unpaired
    surrogates that are not UTF-8 at all; both would otherwise fail inside the INSERT."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text
