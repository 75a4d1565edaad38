"""What the feed tests share: the sample, the validators (RELAX NG, JSON Schema), helpers."""

from __future__ import annotations

import functools
import json

import jsonschema
from lxml import etree

from stories.files import read_records
from stories.sample import SAMPLE_FILE

from .conftest import FIXTURES

SAMPLE_SLUG = "north-korean-defectors"
TOPIC_FEEDS = {
    "rss": f"/topics/{SAMPLE_SLUG}/rss.xml",
    "atom": f"/topics/{SAMPLE_SLUG}/atom.xml",
    "json": f"/topics/{SAMPLE_SLUG}/feed.json",
    "podcast": f"/topics/{SAMPLE_SLUG}/podcast.xml",
}
SITE_FEEDS = {"rss": "/rss.xml", "atom": "/atom.xml", "json": "/feed.json"}
XML_FORMATS = ("rss", "atom", "podcast")

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "podcast": "https://podcastindex.org/namespace/1.0",
    "media": "http://search.yahoo.com/mrss/",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
}

RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
HTTP_URL = r"^https?://[^\s]+$"

# The rules of JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/) as a JSON Schema.
# Formats are written as patterns: jsonschema checks "format" only with extra packages.
JSON_FEED_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["version", "title", "items"],
    "properties": {
        "version": {"const": "https://jsonfeed.org/version/1.1"},
        "title": {"type": "string"},
        "home_page_url": {"type": "string", "pattern": HTTP_URL},
        "feed_url": {"type": "string", "pattern": HTTP_URL},
        "description": {"type": "string"},
        "user_comment": {"type": "string"},
        "next_url": {"type": "string", "pattern": HTTP_URL},
        "icon": {"type": "string", "pattern": HTTP_URL},
        "favicon": {"type": "string", "pattern": HTTP_URL},
        "authors": {"type": "array", "items": {"$ref": "#/$defs/author"}},
        "language": {"type": "string", "pattern": r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"},
        "expired": {"type": "boolean"},
        "hubs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "url"],
                "properties": {"type": {"type": "string"},
                               "url": {"type": "string", "pattern": HTTP_URL}},
            },
        },
        "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
    },
    "not": {"required": ["author"]},  # 1.1 replaced `author` with `authors`
    "$defs": {
        "author": {
            "type": "object",
            "anyOf": [{"required": ["name"]}, {"required": ["url"]}, {"required": ["avatar"]}],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "url": {"type": "string", "pattern": HTTP_URL},
                "avatar": {"type": "string", "pattern": HTTP_URL},
            },
        },
        "item": {
            "type": "object",
            "required": ["id"],
            "anyOf": [{"required": ["content_html"]}, {"required": ["content_text"]}],
            "not": {"required": ["author"]},
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "url": {"type": "string", "pattern": HTTP_URL},
                "external_url": {"type": "string", "pattern": HTTP_URL},
                "title": {"type": "string"},
                "content_html": {"type": "string"},
                "content_text": {"type": "string"},
                "summary": {"type": "string"},
                "image": {"type": "string", "pattern": HTTP_URL},
                "banner_image": {"type": "string", "pattern": HTTP_URL},
                "date_published": {"type": "string", "pattern": RFC3339},
                "date_modified": {"type": "string", "pattern": RFC3339},
                "authors": {"type": "array", "items": {"$ref": "#/$defs/author"}},
                "tags": {"type": "array", "items": {"type": "string"}},
                "language": {"type": "string"},
                "attachments": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["url", "mime_type"],
                        "properties": {
                            "url": {"type": "string", "pattern": HTTP_URL},
                            "mime_type": {"type": "string", "pattern": r"^[a-z]+/[a-z0-9.+-]+$"},
                            "title": {"type": "string"},
                            "size_in_bytes": {"type": "integer", "minimum": 1},
                            "duration_in_seconds": {"type": "number", "minimum": 0},
                        },
                    },
                },
            },
        },
    },
}


# Checked once here: jsonschema.validate checks the schema itself on every call, which
# cost more than the feed.
jsonschema.Draft202012Validator.check_schema(JSON_FEED_SCHEMA)
JSON_FEED = jsonschema.Draft202012Validator(JSON_FEED_SCHEMA)


def check_json_feed(body: bytes) -> dict:
    """The parsed feed; raises when it is not JSON Feed 1.1."""
    feed = json.loads(body)
    JSON_FEED.validate(feed)
    return feed


@functools.cache
def atom_schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(FIXTURES / "atom.rng")))


def check_atom(body: bytes) -> None:
    schema = atom_schema()
    document = etree.fromstring(body)
    assert schema.validate(document), schema.error_log


def sample_batch():
    return read_records(SAMPLE_FILE.read_text(encoding="utf-8"), SAMPLE_FILE.name)


def newest_first(stories):
    return sorted(stories, key=lambda s: (s.published, s.id), reverse=True)
