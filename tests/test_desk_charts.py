"""Charts drawn on the server (desk/charts.py): SVG with escaped text, the numbers as a
table and a CSV, two years of days within a second, on the desk's pages too."""

from __future__ import annotations

import csv
import io
import random
import time
from datetime import date, timedelta
from pathlib import Path

import lxml.etree
from flask import Flask, render_template

from desk.charts import Bar, Bars, DailySeries

from .desk_support import add_editor, desk_app, sign_in

TWO_YEARS = 731
TEMPLATES = Path(__file__).parents[1] / "templates"


def svg_of(chart: DailySeries | Bars, chart_id: str) -> str:
    """The chart's SVG as the desk's templates write it (Jinja escaping, as on the pages)."""
    app = Flask(__name__, template_folder=str(TEMPLATES))
    name = "desk/_daily_svg.html" if isinstance(chart, DailySeries) else "desk/_bars_svg.html"
    with app.app_context():
        return render_template(name, d=chart.drawing(), chart_id=chart_id)


def series(days: int = TWO_YEARS, title: str = "Downloads per day") -> DailySeries:
    rng = random.Random(1)
    first = date(2024, 1, 1)
    counts = {first + timedelta(n): rng.randrange(0, 500) for n in range(days) if n % 7}
    return DailySeries.of(title, "downloads", counts, first, first + timedelta(days - 1))


def test_every_day_is_present_and_the_csv_holds_each(tmp_path):
    chart = series()
    assert len(chart.points) == TWO_YEARS
    rows = list(csv.reader(io.StringIO(chart.csv())))
    assert rows[0] == ["date", "downloads"]
    assert [(d, int(n)) for d, n in rows[1:]] == [(d.isoformat(), n) for d, n in chart.points]
    assert rows[1] == ["2024-01-01", "0"]  # a day without any is there, as 0


def test_the_svg_is_well_formed_with_one_bar_per_day_that_has_any():
    chart = series()
    svg = lxml.etree.fromstring(svg_of(chart, "c").encode())
    ns = {"s": "http://www.w3.org/2000/svg"}
    (path,) = svg.findall("s:path", ns)
    assert path.get("d").count("M") == sum(1 for _, n in chart.points if n)
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "c-title"
    assert f"{chart.total} downloads" in svg.find("s:title", ns).text


def test_text_in_a_chart_is_escaped():
    svg = svg_of(series(days=3, title='<script>alert(1)</script>" onload="x'), '"><script>')
    assert "<script>" not in svg
    lxml.etree.fromstring(svg.encode())  # still well formed


def bars(count: int = 50, name: str = "episode") -> Bars:
    return Bars("Downloads per episode", "downloads", "episode", tuple(
        Bar(f"{name}-{n}.mp3", 1000 - n, (f"Title {n}", n % 7)) for n in range(count)), columns=("title", "week"))


def test_bars_draw_the_first_twenty_and_the_table_and_csv_hold_every_one():
    chart = bars()
    svg = lxml.etree.fromstring(svg_of(chart, "e").encode())
    ns = {"s": "http://www.w3.org/2000/svg"}
    (path,) = svg.findall("s:path", ns)
    assert path.get("d").count("M") == Bars.MAX_BARS
    names = [t.text for t in svg.findall("s:text", ns) if t.get("x") == "0"]
    assert names == [f"episode-{n}.mp3" for n in range(Bars.MAX_BARS)]
    assert "the first 20 of 50 episode drawn" in svg.find("s:title", ns).text
    rows = list(csv.reader(io.StringIO(chart.csv())))
    assert rows[0] == ["episode", "downloads", "title", "week"]
    assert rows[1:] == [[f"episode-{n}.mp3", str(1000 - n), f"Title {n}", str(n % 7)] for n in range(50)]


def test_a_bars_text_is_escaped_a_long_name_cut_and_no_csv_cell_is_a_formula():
    chart = Bars('<script>"x"</script>', "downloads", "app", (
        Bar("<img src=x onerror=alert(1)>" * 10, 3), Bar("=1+2", 2), Bar("-3", 1, ("@SUM(A1)",))), ("more",))
    svg = svg_of(chart, '"><script>')
    assert "<script>" not in svg and "<img" not in svg
    tree = lxml.etree.fromstring(svg.encode())
    first = tree.findall("{http://www.w3.org/2000/svg}text")[0].text
    assert len(first) == Bars.NAME_CHARS and first.endswith("\u2026")
    rows = list(csv.reader(io.StringIO(chart.csv())))
    assert [row[0] for row in rows[2:]] == ["'=1+2", "'-3"] and rows[3][2] == "'@SUM(A1)"
    assert rows[1][0] == "<img src=x onerror=alert(1)>" * 10  # whole in the CSV and the table


def test_two_years_of_days_render_within_a_second():
    started = time.perf_counter()
    chart = series()
    svg_of(chart, "c")
    chart.csv()
    assert time.perf_counter() - started < 1.0


def test_the_overview_draws_two_years_of_days_within_a_second(sample_app):
    from serving.state import app_state

    sample_app = desk_app(app_state(sample_app).settings["DATABASE_URL"])
    add_editor(sample_app)
    client = sample_app.test_client()
    sign_in(client)
    client.get("/desk/")  # templates compiled
    started = time.perf_counter()
    answer = client.get("/desk/?from=2021-06-01&to=2023-05-31")
    took = time.perf_counter() - started
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert page.count("<tr><th scope=\"row\">20") >= TWO_YEARS - 2
    assert "2021-06-01 to 2023-05-31" in page
    assert took < 1.0
