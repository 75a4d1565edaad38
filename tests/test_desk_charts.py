"""Charts drawn on the server (desk/charts.py): SVG with escaped text, the numbers as a
table and a CSV, two years of days within a second, on the desk's pages too."""

from __future__ import annotations

import csv
import io
import random
import time
from datetime import date, timedelta

import lxml.etree

from desk.charts import DailySeries

from .desk_support import add_editor, desk_app, sign_in

TWO_YEARS = 731


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
    svg = lxml.etree.fromstring(chart.svg("c").encode())
    ns = {"s": "http://www.w3.org/2000/svg"}
    (path,) = svg.findall("s:path", ns)
    assert path.get("d").count("M") == sum(1 for _, n in chart.points if n)
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "c-title"
    assert f"{chart.total} downloads" in svg.find("s:title", ns).text


def test_text_in_a_chart_is_escaped():
    svg = series(days=3, title='<script>alert(1)</script>" onload="x').svg('"><script>')
    assert "<script>" not in svg
    lxml.etree.fromstring(svg.encode())  # still well formed


def test_two_years_of_days_render_within_a_second():
    started = time.perf_counter()
    chart = series()
    chart.svg("c")
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
