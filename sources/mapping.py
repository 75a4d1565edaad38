"""Helpers shared by the mappers of foreign documents (feeds, NPR CDS) to records."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from stories.files import Batch
from stories.validate import record_location

from .model import ParseError, Retrieved, Source


def decode_json_text(document: Retrieved) -> str:
    """JSON is UTF-8 (RFC 8259); an HTML page here is an error page or a login wall."""
    if document.content_type in ("text/html", "application/xhtml+xml"):
        raise ParseError(f"upstream sent {document.content_type}, not JSON")
    try:
        return document.body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text: {exc}") from exc


def batch_from_raw(source: Source, items: list[tuple[Any, str]]) -> Batch:
    """Validate mapped records; `items` are (raw record, what the item is called)."""
    batch = Batch()
    for index, (raw, label) in enumerate(items, 1):
        ident = raw.get("id") if isinstance(raw, dict) else None
        batch.add_story(raw, record_location(source.name, label, index, ident))
    return batch


def with_absolute_urls(record: Any, base: str) -> Any:
    """A mapped record with its URLs made absolute against the upstream document's URL.

    A relative URL in a feed or a CDS answer names a file of the upstream, never one of
    ours: left as it is, `/media/x.jpg` would pass validation as a file of this
    service's MEDIA_DIR, and `/media/javascript:...` come out of it as `javascript:`.
    What is still not http(s) afterwards is for validation to refuse.
    """
    if not isinstance(record, dict):
        return record  # validation reports what it is

    def absolute(value: Any) -> Any:
        return urljoin(base, value.strip()) if isinstance(value, str) and value.strip() else value

    def resolve(fields: dict, *keys: str) -> dict:
        return {k: absolute(v) if k in keys else v for k, v in fields.items()}

    record = resolve(record, "url")
    if isinstance(record.get("image"), dict):
        record["image"] = resolve(record["image"], "url")
    if isinstance(record.get("audio"), list):
        record["audio"] = [resolve(a, "url", "transcript_url") if isinstance(a, dict) else a
                           for a in record["audio"]]
    return record


_SPACE_RE = re.compile(r"\s+")
_NOT_SLUG_RE = re.compile(r"[^a-z0-9]+")
SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment (teasers arrive with <em> and entities)."""
    if not html or not html.strip():
        return ""
    try:
        text = lxml.html.fragment_fromstring(html, create_parent="div").text_content()
    except (etree.ParserError, ValueError):
        text = html
    return _SPACE_RE.sub(" ", text).strip()


def slugify(text: str) -> str:
    return _NOT_SLUG_RE.sub("-", text.lower()).strip("-")[:100].strip("-")


def first_image_in_html(html: str) -> dict[str, str] | None:
    """The first <img> of an HTML fragment: {"src", "alt"}."""
    if not html or "<img" not in html.lower():
        return None
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return None
    for img in root.iter("img"):
        src = (img.get("src") or "").strip()
        if src:
            return {"src": src, "alt": _SPACE_RE.sub(" ", img.get("alt") or "").strip()}
    return None


_IMAGE_CREDIT_RE = re.compile(r"\(Image credit:\s*(.+?)\)\s*$", re.MULTILINE)


def image_credit_in_html(html: str) -> str:
    """NPR's feeds print the credit as "(Image credit: PRODUCER/PROVIDER)"."""
    for line in html_to_text_lines(html):
        found = _IMAGE_CREDIT_RE.search(line)
        if found:
            return found.group(1).strip()
    return ""


def html_to_text_lines(html: str) -> list[str]:
    if not html:
        return []
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return []
    return [_SPACE_RE.sub(" ", el.text_content()).strip() for el in root.iter("p", "div", "span")]


def parse_duration(text: str | None) -> int | None:
    """itunes:duration: seconds, MM:SS or HH:MM:SS (fractions rounded)."""
    if not text:
        return None
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3:
        return None
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        return None
    if any(n < 0 for n in numbers):
        return None
    seconds = 0.0
    for n in numbers:
        seconds = seconds * 60 + n
    return round(seconds)


def positive_int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
