"""Charts drawn on the server as SVG, each with the table of its numbers and a CSV of
them: no script, no CDN, and readable by screen readers through the table.

A day's count is one bar; all the bars are one `<path>`, so two years of days are one
element, not 730 (`tests/test_desk_charts.py` holds rendering them under a second).
A count per named thing (`Bars`: an episode, an app) is a horizontal bar under its name.
Colours come from the stylesheet (`currentColor`), so the chart follows light and dark.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from xml.sax.saxutils import escape, quoteattr

from serving.spreadsheets import spreadsheet_cell

WIDTH, HEIGHT = 640, 200
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 40, 20, 10


@dataclass(frozen=True)
class DailySeries:
    """A count per day from `first` to `last`, every day present (0 where none)."""

    title: str
    label: str  # what is counted: "stories", "downloads"
    points: tuple[tuple[date, int], ...]

    @classmethod
    def of(cls, title: str, label: str, counts: dict[date, int], first: date, last: date) -> DailySeries:
        days = (last - first).days + 1
        return cls(title, label, tuple(
            (day, counts.get(day, 0)) for day in (first + timedelta(n) for n in range(max(days, 0)))))

    @property
    def total(self) -> int:
        return sum(count for _, count in self.points)

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["date", self.label])
        writer.writerows((day.isoformat(), count) for day, count in self.points)
        return out.getvalue()

    def svg(self, chart_id: str) -> str:
        """The chart as an inline `<svg>` element; every text in it escaped."""
        points = self.points
        top = max((count for _, count in points), default=0) or 1
        plot_w, plot_h = WIDTH - MARGIN_LEFT, HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
        step = plot_w / max(len(points), 1)
        bar = max(step * 0.8, 0.5)
        base = MARGIN_TOP + plot_h
        path = []
        for n, (_, count) in enumerate(points):
            if count:
                h = plot_h * count / top
                path.append(f"M{MARGIN_LEFT + n * step:.2f} {base:.2f}h{bar:.2f}v{-h:.2f}h{-bar:.2f}z")
        title_id = f"{chart_id}-title"
        first = points[0][0].isoformat() if points else ""
        last = points[-1][0].isoformat() if points else ""
        summary = f"{self.title}: {self.total} {self.label} from {first} to {last}, at most {top} a day"
        return "".join((
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" ',
            f'aria-labelledby={quoteattr(title_id)} id={quoteattr(chart_id)}>',
            f"<title id={quoteattr(title_id)}>{escape(summary)}</title>",
            f'<line class="axis" x1="{MARGIN_LEFT}" y1="{base}" x2="{WIDTH}" y2="{base}"/>',
            f'<text class="tick" x="{MARGIN_LEFT - 4}" y="{MARGIN_TOP + 10}" text-anchor="end">{top}</text>',
            f'<text class="tick" x="{MARGIN_LEFT - 4}" y="{base}" text-anchor="end">0</text>',
            f'<text class="tick" x="{MARGIN_LEFT}" y="{HEIGHT - 4}">{escape(first)}</text>',
            f'<text class="tick" x="{WIDTH}" y="{HEIGHT - 4}" text-anchor="end">{escape(last)}</text>',
            f'<path class="bars" d="{"".join(path)}"/>' if path else "",
            "</svg>",
        ))


@dataclass(frozen=True)
class Bar:
    """One named count, with the further columns its table shows (`Bars.columns`)."""

    name: str
    count: int
    more: tuple[str | int, ...] = ()
    shown: str | None = None  # what the chart writes above the bar (default: its name)


@dataclass(frozen=True)
class Bars:
    """A count per named thing, in the order given (most first); the chart draws the
    first `MAX_BARS` (a report may name thousands of files), the table and the CSV hold
    every one."""

    title: str
    label: str  # what is counted: "downloads"
    key: str  # what names a bar: "episode", "app"
    bars: tuple[Bar, ...]
    columns: tuple[str, ...] = ()  # the headings of each bar's `more`

    MAX_BARS = 20
    ROW = 34  # px per bar: its name above (room for the phone's larger text), the bar below
    NAME_CHARS = 80  # a longer name is cut in the chart (whole in the table)

    @property
    def total(self) -> int:
        return sum(bar.count for bar in self.bars)

    @property
    def drawn(self) -> tuple[Bar, ...]:
        return self.bars[:self.MAX_BARS]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([self.key, self.label, *self.columns])
        writer.writerows((spreadsheet_cell(bar.name), bar.count, *map(spreadsheet_cell, bar.more)) for bar in self.bars)
        return out.getvalue()

    def svg(self, chart_id: str) -> str:
        """The chart as an inline `<svg>` element; every text in it escaped."""
        drawn = self.drawn
        top = max((bar.count for bar in drawn), default=0) or 1
        height = max(len(drawn), 1) * self.ROW + MARGIN_TOP
        room = WIDTH - 60  # the widest bar leaves room for its number
        title_id = f"{chart_id}-title"
        shown = f"the first {len(drawn)} of {len(self.bars)}" if len(drawn) < len(self.bars) else "each"
        summary = f"{self.title}: {self.total} {self.label}, {shown} {self.key} drawn, most first"
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bars-chart" role="img" '
            f'viewBox="0 0 {WIDTH} {height}" aria-labelledby={quoteattr(title_id)} id={quoteattr(chart_id)}>',
            f"<title id={quoteattr(title_id)}>{escape(summary)}</title>",
        ]
        path = []
        for n, bar in enumerate(drawn):
            y = MARGIN_TOP + n * self.ROW
            w = max(room * bar.count / top, 1.0) if bar.count else 0.0
            name = bar.shown or bar.name
            name = name if len(name) <= self.NAME_CHARS else name[:self.NAME_CHARS - 1] + "\u2026"
            parts.append(f'<text class="tick" x="0" y="{y + 13}">{escape(name)}</text>')
            parts.append(f'<text class="tick" x="{w + 4:.2f}" y="{y + 27}">{bar.count}</text>')
            if w:
                path.append(f"M0 {y + 18}h{w:.2f}v10h{-w:.2f}z")
        if path:
            parts.append(f'<path class="bars" d="{"".join(path)}"/>')
        parts.append("</svg>")
        return "".join(parts)


def days_range(points: Sequence[date], default_days: int = 90) -> tuple[date, date]:
    """The days a chart of these dates spans: from the first to the last, or the last
    `default_days` up to today when there are none."""
    if points:
        return min(points), max(points)
    today = date.today()
    return today - timedelta(default_days - 1), today
