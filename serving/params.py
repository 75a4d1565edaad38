"""Request parameters every area reads the same way: page sizes, sizes, cursors.

Each refuses what it cannot use with an `InvalidInput` (a 400 through web/errors.py) that
says what is accepted, before any value reaches the store or a renderer. No Flask here:
the areas import DEFAULT_LIMIT, and they stay free of it (tests/test_layers.py).
"""

from __future__ import annotations

from stories.errors import InvalidInput
from stories.store import InvalidCursor, normalize_cursor

DEFAULT_LIMIT = 50
# The largest page a request may ask for. A page's render is proportional to its items
# (about 0.1 ms of CPU an item in every format), and every other page size is rendered
# for each request (web/feeds.py keeps only the default's): 500 items cost 45 to 65 ms,
# past the 50 ms a request may take (issue 21, `bench.anonymous`); 100 cost 10 to 16 ms.
# More items are a `next` link away, each page as cheap as the first (keyset cursors).
MAX_LIMIT = 100


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
