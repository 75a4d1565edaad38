"""Request parameters every area reads the same way: page sizes, sizes, cursors.

Each refuses what it cannot use with an `InvalidInput` (a 400 through web/errors.py) that
says what is accepted, before any value reaches the store or a renderer. No Flask here:
the areas import DEFAULT_LIMIT, and they stay free of it (tests/test_layers.py).
"""

from __future__ import annotations

from stories.errors import InvalidInput
from stories.store import InvalidCursor, normalize_cursor

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def parse_limit(value: str | None, default: int | None = DEFAULT_LIMIT, maximum: int = MAX_LIMIT,
                name: str = "limit") -> int | None:
    """`?limit=` (or another `name`): a whole number from 1 to `maximum`; a 400 that says so."""
    if value is None or value == "":
        return default
    # The length first: int() refuses strings of over 4300 digits with a ValueError.
    if (not (value.isascii() and value.isdigit()) or len(value.lstrip("0")) > len(str(maximum))
            or not 1 <= int(value) <= maximum):
        raise InvalidInput(f"{name} must be a whole number from 1 to {maximum}")
    return int(value)


def parse_cursor(value: str | None) -> str | None:
    """A page's cursor in the one spelling the store makes (so that the page's own links,
    and its cache key, are the same however the cursor was written); a 400 for anything
    that is not a cursor."""
    if not value:
        return None
    try:
        return normalize_cursor(value)
    except InvalidCursor as exc:
        raise InvalidInput(f"{exc}; use the feed's first, next or previous link") from None
