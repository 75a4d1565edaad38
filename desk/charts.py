"""Charts drawn on the server as SVG, each with the table of its numbers and a CSV of
them: no script, no CDN, and readable by screen readers through the table. This module
works out what is drawn where (`drawing()`); the desk's templates write the SVG
(`templates/desk/_daily_svg.html`, `_bars_svg.html`), Jinja escaping every text in it.

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

    def drawing(self) -> DailyDrawing:
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
        first = points[0][0].isoformat() if points else ""
        last = points[-1][0].isoformat() if points else ""
        summary = f"{self.title}: {self.total} {self.label} from {first} to {last}, at most {top} a day"
        return DailyDrawing(summary, top, base, first, last, "".join(path))


@dataclass(frozen=True)
class DailyDrawing:
    """Where a `DailySeries` is drawn: one bar a day with any, all of them one path."""

    summary: str  # the chart's title, for screen readers
    top: int  # the count the plot's height stands for
    base: int  # the y of the axis
    first: str
    last: str
    path: str  # the bars, numbers only
    width: int = WIDTH
    height: int = HEIGHT
    left: int = MARGIN_LEFT
    margin_top: int = MARGIN_TOP


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

    def drawing(self) -> BarsDrawing:
        drawn = self.drawn
        top = max((bar.count for bar in drawn), default=0) or 1
        room = WIDTH - 60  # the widest bar leaves room for its number
        shown = f"the first {len(drawn)} of {len(self.bars)}" if len(drawn) < len(self.bars) else "each"
        rows, path = [], []
        for n, bar in enumerate(drawn):
            y = MARGIN_TOP + n * self.ROW
            w = max(room * bar.count / top, 1.0) if bar.count else 0.0
            name = bar.shown or bar.name
            name = name if len(name) <= self.NAME_CHARS else name[:self.NAME_CHARS - 1] + "\u2026"
            rows.append(DrawnBar(name, bar.count, y, round(w, 2)))
            if w:
                path.append(f"M0 {y + 18}h{w:.2f}v10h{-w:.2f}z")
        return BarsDrawing(f"{self.title}: {self.total} {self.label}, {shown} {self.key} drawn, most first",
                           max(len(drawn), 1) * self.ROW + MARGIN_TOP, tuple(rows), "".join(path))


@dataclass(frozen=True)
class DrawnBar:
    name: str  # as the chart writes it (cut to NAME_CHARS)
    count: int
    y: int  # the top of its row: the name on it, the bar and its number below
    width: float


@dataclass(frozen=True)
class BarsDrawing:
    """Where a `Bars` is drawn: a row per bar drawn, all the bars one path."""

    summary: str
    height: int
    bars: tuple[DrawnBar, ...]
    path: str  # numbers only
    width: int = WIDTH


def days_range(points: Sequence[date], default_days: int = 90) -> tuple[date, date]:
    """The days a chart of these dates spans: from the first to the last, or the last
    `default_days` up to today when there are none."""
    if points:
        return min(points), max(points)
    today = date.today()
    return today - timedelta(default_days - 1), today
