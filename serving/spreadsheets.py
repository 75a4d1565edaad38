"""What goes into the CSV files people open in a spreadsheet: the desk's charts' CSVs
(desk/charts.py) and `flask audience report --csv` (web/cli/audience.py)."""

from __future__ import annotations

# What a spreadsheet reads as the start of a formula, or skips to one (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: str | int) -> str | int:
    """A text cell a spreadsheet would read as a formula (`=HYPERLINK(...)` in a story's
    title from a wire, a file named `@SUM(...)`) starts with a quote instead: OWASP's
    advice on CSV injection. Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
