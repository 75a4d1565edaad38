"""Whatever the API accepted, `stories export` then `stories import` into an empty store
gives the same store (its export is byte for byte the same), with and without
--skip-invalid: no story may be lost on the way, whatever characters its text holds."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.state import app_state
from stories.files import read_records, write_ndjson

from .conftest import make_app, story_record

AUTH = {"Authorization": "Bearer roundtrip-token"}

# Characters that have split records, or could: every line break str.splitlines() knows,
# the XML-illegal ones validation removes, lone surrogates, and text that means something
# in HTML, XML or JSON.
AWKWARD = [
    "\u2028", "\u2029", "\x85", "\r", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e",
    "\x00", "\x1f", "\ud800", "\udfff", "\ufffe", "\t", "\\", '"', "\\u2028", "]]>", "<p>", "&amp;",
    "</script>", "👩‍👩‍👧", "مرحبا", "\u202e", "\ufeff", " ",
]
awkward_text = st.lists(
    st.one_of(st.sampled_from(AWKWARD), st.text(max_size=5)), min_size=0, max_size=8
).map("".join)
HTML = ["<p>", "</p>", "<b>", "</i>", "<a href='javascript:x'>", "<img src=x onerror=y>", "<!--",
        "-->", "<table><td>", "<li>", "<ul>", "<br/>", "<script>", "<style>", "&", "&#0;", "<pre>",
        "<svg><a>", "<math><mi>", "<noscript>", "<iframe>", "<textarea>", "<q cite=x>", "<"]
html_text = st.lists(st.one_of(st.sampled_from(AWKWARD + HTML), st.text(max_size=4)),
                     max_size=12).map("".join)
titles = awkward_text.map(lambda text: "T" + text)  # a title must hold something
slugs = st.sampled_from(["world", "asia", "north-korean-defectors", "a", "z-9"])

stories = st.fixed_dictionaries(
    {"title": titles, "topics": st.lists(slugs, max_size=3, unique=True)},
    optional={
        "teaser": awkward_text, "body_html": html_text, "note": awkward_text,
        "bylines": st.lists(titles, max_size=3),
        "image": st.fixed_dictionaries(
            {"url": st.just("/media/t/a.jpg")},
            optional={"caption": awkward_text, "credit": awkward_text, "alt": awkward_text}),
        "audio": st.lists(st.fixed_dictionaries(
            {"embed": titles}, optional={"url": st.just("https://x.example/a.mp3")}),
            max_size=2).map(lambda items: [{**a, "id": f"a{i}"} for i, a in enumerate(items)]),
    },
)
topics = st.fixed_dictionaries(
    {"slug": slugs}, optional={"title": titles, "description": awkward_text, "copyright": awkward_text})

ids = itertools.count()


@pytest.fixture
def apps(tmp_path):
    """The app that accepted the records, and an empty one to import them into."""
    from .conftest import migrated_sqlite

    source = make_app(migrated_sqlite(tmp_path / "source.sqlite3"), INGEST_TOKENS="roundtrip-token")
    target = make_app(migrated_sqlite(tmp_path / "target.sqlite3"))
    yield source, target
    for app in (source, target):
        app_state(app).store.engine.dispose()


def export(app) -> str:
    result = app.test_cli_runner().invoke(args=["stories", "export"])
    assert result.exit_code == 0, result.output
    return result.output


def import_text(app, text: str, *flags: str):
    return app.test_cli_runner().invoke(args=["stories", "import", *flags, "-"], input=text.encode())


def push(client, story_bodies, topic_bodies):
    for topic in topic_bodies:
        slug = topic.pop("slug")
        response = client.put(f"/api/topics/{slug}", json=topic, headers=AUTH)
        assert response.status_code in (200, 201), response.json
    bodies = [{**body, "id": f"s{next(ids)}", "url": "https://x.example/s",
               "published": "2024-01-02T10:00:00-05:00"} for body in story_bodies]
    response = client.post("/api/stories", json=bodies, headers=AUTH)
    assert response.status_code == 200, response.json


@given(st.lists(stories, min_size=1, max_size=3), st.lists(topics, max_size=2))
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_any_store_the_api_accepted_round_trips(apps, story_bodies, topic_bodies):
    source, target = apps
    push(source.test_client(), story_bodies, topic_bodies)
    exported = export(source)
    # One line per record, whatever splits lines: the export escapes what JSON allows raw.
    assert len(exported.splitlines()) == exported.count("\n")

    done = import_text(target, exported)
    assert done.exit_code == 0, done.output
    assert "error:" not in done.output
    assert export(target) == exported

    # --skip-invalid has nothing to skip either.
    again = import_text(target, exported, "--skip-invalid")
    assert again.exit_code == 0 and "invalid skipped" not in again.output
    assert export(target) == exported


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\r\n", "\x0b", "\x1c"])
def test_a_store_holding_line_separators_exports_and_imports_unchanged(apps, separator):
    source, target = apps
    push(source.test_client(), [
        {"title": f"a{separator}b", "teaser": f"x{separator}y", "topics": ["world"]},
        {"title": "plain", "note": f"n{separator}", "topics": ["world"]},
    ], [{"slug": "world", "title": f"World{separator}news"}])
    exported = export(source)
    for flags in ((), ("--skip-invalid",)):
        result = import_text(target, exported, *flags)
        assert result.exit_code == 0, result.output
        assert "2 added" in result.output or "2 unchanged" in result.output
        assert export(target) == exported


def test_raw_line_separators_written_by_others_are_read_too():
    """An NDJSON file written with json.dumps(ensure_ascii=False) holds U+2028 raw: it is
    still one record, since lines end at "\\n" only."""
    record = story_record(title="a\u2028b\u2029c\x85d")
    text = json.dumps(record, ensure_ascii=False) + "\n" + json.dumps({"topic": {"slug": "world"}}) + "\n"
    batch = read_records(text, "raw.ndjson")
    assert batch.problems == [] and batch.stories[0].title == "a\u2028b\u2029c\x85d"
    written = "".join(write_ndjson(batch.topics, batch.stories))
    assert "\u2028" not in written and "\\u2028" in written
    assert read_records(written, "again.ndjson").stories == batch.stories
