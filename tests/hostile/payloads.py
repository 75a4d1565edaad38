"""What the hostile suite sends, and how it judges what comes back.

Tables of hostile values (URLs, text, cursors, path segments, dates, numbers), a test
client that refuses any answer a stranger must never see (a 5xx, a traceback, a non-JSON
error under /api), and the checks that an HTML page, a feed or an oEmbed answer carries
no live markup and no URL other than http(s) or a path of this service.
"""

from __future__ import annotations

import base64
import contextlib
import json
from urllib.parse import urlsplit

import lxml.html
from flask.testing import FlaskClient
from lxml import etree

SITE = "http://storyfeed.test/"
MEDIA_BASE = SITE + "media/"
TOKEN = "hostile-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SLUG = "north-korean-defectors"
SAMPLE_STORY = "1169464713"
SAMPLE_AUDIO = "1169825816"
SAMPLE_MEDIA = f"{SLUG}/artwork.jpg"

# What leaks when an exception reaches a client.
TRACEBACK_MARKERS = (
    "Traceback (most recent call last)", 'File "/', "sqlalchemy.exc", "psycopg.",
    "werkzeug.exceptions", "RecursionError", "OverflowError", "UnicodeEncodeError",
)


# -- the client -----------------------------------------------------------------------


class HostileClient(FlaskClient):
    """A test client that fails the test on any answer a stranger must never get: an
    exception escaping the app, a 5xx, traceback text, or an error under /api/ that is
    not JSON with `error`, `message` and `status`."""

    def open(self, *args, **kwargs):
        try:
            response = super().open(*args, **kwargs)
        except Exception as exc:  # the app let it escape: the server would answer 500
            raise AssertionError(f"the app raised {type(exc).__name__}: {exc}") from exc
        request = response.request
        where = f"{request.method} {request.full_path.rstrip('?')}"
        if len(where) > 160:
            where = where[:150] + f"...({len(where)} characters)"
        # oEmbed 1.0 itself answers 501 for a format it does not serve; no other 5xx.
        oembed_501 = response.status_code == 501 and request.path.startswith("/oembed")
        assert response.status_code < 500 or oembed_501, (
            f"{where} answered {response.status_code}: {response.get_data()[:300]!r}"
        )
        if not response.is_streamed:
            text = response.get_data().decode("utf-8", "replace")
            for marker in TRACEBACK_MARKERS:
                assert marker not in text, f"{where} shows {marker!r}"
        if request.path.startswith("/api/") and response.status_code >= 400:
            assert response.is_json, f"{where}: a {response.status_code} under /api/ must be JSON"
            body = response.get_json()
            assert {"error", "message", "status"} <= set(body), f"{where}: {body}"
            assert body["status"] == response.status_code
        return response


def export(app) -> str:
    """The whole store as `stories export` writes it."""
    result = app.test_cli_runner().invoke(args=["stories", "export"])
    assert result.exit_code == 0, result.output
    return result.output


@contextlib.contextmanager
def store_unchanged(app):
    """A refused write leaves the store as it was: the same export before and after."""
    before = export(app)
    yield
    assert export(app) == before, "a refused write changed the store"


# -- encoders -------------------------------------------------------------------------


def cursor(raw: str) -> str:
    """A cursor as the store writes one (URL-safe base64 without padding) around any
    text, lone surrogates included."""
    return base64.urlsafe_b64encode(raw.encode("utf-8", "surrogatepass")).decode().rstrip("=")


def json_body(value) -> str:
    """JSON as a careless client might send it: NaN and Infinity allowed."""
    return json.dumps(value, allow_nan=True)


# -- tables ---------------------------------------------------------------------------

# Paging cursors that no page ever handed out: each must be a 400 that says so.
HOSTILE_CURSORS = [
    ("not-base64", "!!!not*base64!!!"),
    ("base64-of-garbage", cursor("\x00\x01garbage")),
    ("not-utf8", base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode().rstrip("=")),
    ("json-object", cursor('{"direction": "older"}')),
    ("json-number", cursor("12345")),
    ("json-null", cursor("null")),
    ("wrong-length", cursor('["older", "2020-01-01T00:00:00"]')),
    ("wrong-direction", cursor('["sideways", "2020-01-01T00:00:00", "1"]')),
    ("id-not-string", cursor('["older", "2020-01-01T00:00:00", 1]')),
    ("date-not-iso", cursor('["older", "yesterday", "1"]')),
    ("date-is-number", cursor('["older", 1700000000, "1"]')),
    ("nested-list-5000", cursor("[" * 5000 + "]" * 5000)),
    ("nested-object-5000", cursor('{"a":' * 5000 + "1" + "}" * 5000)),
    ("lone-surrogate-id", cursor('["older", "2020-01-01T00:00:00", "\\ud800"]')),
    ("lone-surrogate-raw", cursor('["older", "2020-01-01T00:00:00", "\ud800"]')),
    ("nul-in-id", cursor('["older", "2020-01-01T00:00:00", "\\u0000"]')),
    ("nul-in-date", cursor('["older", "2020-01-01\\u0000", "1"]')),
    ("huge-number", cursor("[" + "9" * 5000 + "]")),
    ("nan", cursor('["older", NaN, "1"]')),
    ("very-long", cursor('["older", "2020-01-01T00:00:00", "' + "9" * 20_000 + '"]')),
]

def refused_status(url: str, otherwise: int = 404) -> int:
    """NUL anywhere in a URL's path or query is refused with 400 by one request guard
    before any view (PostgreSQL cannot hold it in text, and no id, slug or cursor of ours
    has one); anything else gets `otherwise` from the view."""
    return 400 if "%00" in url or "\x00" in url else otherwise


# Path segments naming no story, topic or audio (never 5xx; 404 after routing, 400 for
# NUL: see refused_status). "%00" is the one PostgreSQL refuses in text; the rest probe
# quoting, length and Unicode.
HOSTILE_SEGMENTS = [
    ("nul", "%00"),
    ("nul-inside", "1169464713%00"),
    ("control", "%01%1f"),
    ("quote-and-angle", "%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
    ("sql", "1'%20OR%20'1'%3D'1"),
    ("unicode", "%E2%80%A8%F0%9F%92%A9"),
    ("replacement", "%ED%A0%80"),  # a lone surrogate in UTF-8: not decodable
    ("long", "9" * 5_000),
    ("dots", "..%2E"),
    ("uppercase", "ABC"),
]

# Dangerous URLs. `{field}` names the field the value is put in, so a failure says
# which field leaked. Every one must be refused by validation (422 naming the field)
# and, stored directly, must never come out as anything but http(s) or our own path.
HOSTILE_URLS = [
    ("javascript", "javascript:alert('{field}')"),
    ("javascript-mixed-case", "JaVaScRiPt:alert('{field}')"),
    ("javascript-leading-space", " javascript:alert('{field}')"),
    ("javascript-tab", "java\tscript:alert('{field}')"),
    ("javascript-entity", "javascript&colon;alert('{field}')"),
    ("javascript-newline", "javascript:\nalert('{field}')"),
    ("vbscript", "vbscript:msgbox('{field}')"),
    ("data-html", "data:text/html,<script>alert('{field}')</script>"),
    ("media-javascript", "/media/javascript:alert('{field}')//x.mp3"),
    ("media-javascript-upper", "/media/JAVASCRIPT:alert('{field}')//x.mp3"),
    ("media-data", "/media/data:text/html,<script>alert('{field}')</script>"),
    ("media-vbscript", "/media/vbscript:msgbox('{field}')//x.mp3"),
    ("media-protocol-relative", "/media///evil.example/{field}.mp3"),
    ("media-backslash", "/media/\\\\evil.example\\{field}.mp3"),
    ("media-dot-segments", "/media/./../{field}.mp3"),
    ("media-quote", "/media/x\"onerror=\"alert('{field}').mp3"),
]

# URL payloads that are paths under /media/: the ones a field taking "/media/" paths
# (image.url, audio.url, topic image.url) used to accept.
MEDIA_URLS = [(name, value) for name, value in HOSTILE_URLS if value.startswith("/media/")]

# Text that is markup in HTML, XML or a template. `{field}` names the field.
HOSTILE_TEXT = [
    ("script-breakout", "\"><script>alert('{field}')</script>"),
    ("script-close", "</script><script>alert('{field}')</script>"),
    ("img-onerror", "<img src=x onerror=alert('{field}')>"),
    ("attribute-breakout", "' onmouseover='alert(\"{field}\")' x='"),
    ("svg-onload", "<svg/onload=alert('{field}')>"),
    ("cdata-end", "]]><script>alert('{field}')</script><![CDATA["),
    ("template", "{{{{7*7}}}}{{% raw %}}{field}"),
    ("line-separators", "a\u2028b\u2029c\u0085d {field}"),
    ("iframe", "<iframe src=\"javascript:alert('{field}')\"></iframe>"),
    ("entity-encoded", "&lt;script&gt;alert('{field}')&lt;/script&gt;"),
]

# Story fields holding URLs, and the record paths to set them.
STORY_URL_FIELDS = ["url", "image.url", "audio[0].url", "audio[0].transcript_url"]
TOPIC_URL_FIELDS = ["link", "image.url"]
# Fields that accept a /media/ path.
STORY_MEDIA_FIELDS = ["image.url", "audio[0].url"]
STORY_TEXT_FIELDS = [
    "title", "teaser", "body_html", "bylines[0]", "image.caption", "image.credit", "image.alt",
]
TOPIC_TEXT_FIELDS = ["title", "description", "author", "owner_name", "copyright"]

# URL schemes a page may link to besides http(s): the podcast apps' own subscribe links.
APP_SCHEMES = {"podcast", "overcast", "pktc"}


def set_field(record: dict, path: str, value) -> dict:
    """`record` with `path` ("image.url", "audio[0].url", "bylines[0]") set to `value`."""
    target = record
    parts = path.replace("[", ".[").split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        key = int(part[1:-1]) if part.startswith("[") else part
        if last:
            target[key] = value
        else:
            target = target[key]
    return record


# -- judging outputs ------------------------------------------------------------------


def as_browsers_read(url: str) -> str:
    """A URL as the WHATWG URL parser sees it: C0 controls and spaces stripped from both
    ends, tabs and newlines removed everywhere (so "java\tscript:" is javascript:)."""
    stripped = url.strip("".join(chr(c) for c in range(0x21)))
    return "".join(c for c in stripped if c not in "\t\n\r")


def url_is_safe(url: str, *, allow_app_schemes: bool = False) -> bool:
    """http(s) with a host, or a reference relative to this site (not "//..." or "/\\...")."""
    read = as_browsers_read(url)
    parts = urlsplit(read)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return bool(parts.netloc)
    if allow_app_schemes and scheme in APP_SCHEMES:
        return True
    if not scheme and not parts.netloc:
        # A relative reference resolves under this site, unless it is protocol-relative.
        return not read.replace("\\", "/").startswith("//")
    return False


def media_url_stays_home(url: str) -> bool:
    """A /media/ path in a record comes out under MEDIA_BASE_URL, never elsewhere."""
    return url.startswith(MEDIA_BASE) and ".." not in urlsplit(url).path.split("/")


# The page's own handlers (the subscribe box's copy buttons); any other is injected.
OWN_HANDLERS = {
    "navigator.clipboard.writeText(this.dataset.copy).then(() => { this.textContent = 'Copied'; })",
}
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "poster", "data", "background",
                  "cite", "srcset", "xlink:href")
URL_METAS = ("og:image", "og:url", "og:audio", "og:video", "twitter:image", "twitter:player",
             "twitter:player:stream")


def is_own_script(element) -> bool:
    """<script src="/static/..."> with no inline body: a file this site serves itself,
    which the CSP's script-src 'self' allows. Anything inline, elsewhere, or reaching
    out of /static/ is not ours."""
    parts = urlsplit(as_browsers_read(element.get("src", "")))
    return (
        not parts.scheme and not parts.netloc and not parts.query
        and parts.path.startswith("/static/") and "\\" not in parts.path
        and ".." not in parts.path.split("/")
        and not (element.text or "").strip() and len(element) == 0
    )


def is_json_ld(element) -> bool:
    """A schema.org data block: never executed, and written by Jinja's `tojson`, which
    escapes `<`, `>` and `&`, so nothing in it can close the element. It must parse as
    JSON, as a browser's own reader would need."""
    if (element.get("type") or "").strip().lower() != "application/ld+json" or element.get("src"):
        return False
    text = element.text or ""
    if "<" in text or ">" in text or len(element):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def html_problems(html: str, *, own_scripts: bool = True) -> list[str]:
    """What makes `html` unsafe: scripts other than ours (none at all when `own_scripts`
    is false, as in a feed's HTML field), event handler attributes, frames, and URLs
    that are not http(s) or our own paths (in attributes, meta tags and the embed code
    shown as text)."""
    problems = []
    if not html.strip():
        return problems
    root = lxml.html.fromstring(html)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.lower()
        if tag == "script":
            if not (own_scripts and (is_own_script(element) or is_json_ld(element))):
                problems.append(f"a <script> element: {lxml.html.tostring(element)[:120]!r}")
        if tag in ("iframe", "object", "embed", "frame", "base", "form"):
            problems.append(f"a <{tag}> element")
        for name, value in element.attrib.items():
            if name.lower().startswith("on") and value not in OWN_HANDLERS:
                problems.append(f"an event handler {name}={value!r} on <{tag}>")
            if name.lower() in URL_ATTRIBUTES and not url_is_safe(
                value, allow_app_schemes=(tag == "a")
            ):
                problems.append(f"<{tag} {name}={value!r}>")
        if tag == "meta":
            prop = element.get("property") or element.get("name") or ""
            if prop in URL_METAS and not url_is_safe(element.get("content", "")):
                problems.append(f"<meta {prop} content={element.get('content')!r}>")
        if tag == "textarea" and element.text:
            # The embed code an editor copies is HTML too: it must be as safe as the page.
            problems += [f"embed code: {p}" for p in iframe_problems(element.text)]
    return problems


def iframe_problems(html: str) -> list[str]:
    """oEmbed `html` and embed codes: one iframe with an http(s) src, after storyfeed's own
    player the blockquote WordPress's embeds carry (one link), nothing else."""
    fragment = lxml.html.fragment_fromstring(html, create_parent="div")
    elements = [e for e in fragment.iter() if isinstance(e.tag, str) and e is not fragment]
    problems = []
    if [e.tag for e in elements] not in (["iframe"], ["blockquote", "a", "iframe"]):
        problems.append(f"not exactly one iframe, after one linked blockquote: {[e.tag for e in elements]}")
    if elements and elements[0].tag == "blockquote" and elements[0].attrib != {"class": "wp-embedded-content"}:
        problems.append(f"<blockquote {dict(elements[0].attrib)}>")
    for element in elements:
        for name, value in element.attrib.items():
            if name.lower().startswith("on") or name.lower() == "srcdoc":
                problems.append(f"<{element.tag} {name}={value!r}>")
            if name.lower() in URL_ATTRIBUTES and not url_is_safe(value):
                problems.append(f"<{element.tag} {name}={value!r}>")
    return problems


def fragment_problems(html: str, where: str) -> list[str]:
    """An HTML-carrying feed field (description, content:encoded, content_html)."""
    if not html or not html.strip():
        return []
    wrapped = f"<!doctype html><html><body><div>{html}</div></body></html>"
    return [f"{where}: {p}" for p in html_problems(wrapped, own_scripts=False)]


XML_URL_ELEMENTS = {"link", "url", "docs", "comments", "logo", "icon"}
XML_URL_ATTRIBUTES = {"href", "url", "xmlUrl", "htmlUrl", "domain", "scheme"}
# Elements whose text feed readers treat as HTML.
RSS_HTML_ELEMENTS = {"description", "{http://purl.org/rss/1.0/modules/content/}encoded"}
ATOM = "{http://www.w3.org/2005/Atom}"


def xml_feed_problems(body: bytes) -> list[str]:
    """RSS, podcast RSS, Atom or OPML: well-formed, every URL http(s), every HTML field
    free of live markup."""
    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"]
    problems = []
    atom = root.tag == f"{ATOM}feed"
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        for name, value in element.attrib.items():
            if etree.QName(name).localname in XML_URL_ATTRIBUTES and not url_is_safe(value):
                problems.append(f"<{local} {name}={value!r}>")
        text = element.text or ""
        if local in XML_URL_ELEMENTS and text.strip() and not url_is_safe(text.strip()):
            problems.append(f"<{local}>{text.strip()!r}")
        if element.tag == "guid" and element.get("isPermaLink", "true") != "false":
            if not url_is_safe(text.strip()):
                problems.append(f"<guid>{text.strip()!r}")
        html_field = (element.tag in RSS_HTML_ELEMENTS and not atom) or (
            atom and local in ("content", "summary", "title", "rights", "subtitle")
            and element.get("type") in ("html", "xhtml")
        )
        if html_field:
            problems += fragment_problems(text, f"<{local}>")
    return problems


JSON_FEED_URL_KEYS = {"home_page_url", "feed_url", "next_url", "url", "external_url", "image",
                      "banner_image", "icon", "favicon", "avatar"}


def json_feed_problems(body: bytes) -> list[str]:
    problems = []
    feed = json.loads(body)

    def walk(value, where):
        if isinstance(value, dict):
            for key, item in value.items():
                if key in JSON_FEED_URL_KEYS and isinstance(item, str) and not url_is_safe(item):
                    problems.append(f"{where}.{key}={item!r}")
                if key == "content_html":
                    problems.extend(fragment_problems(item, f"{where}.content_html"))
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")

    walk(feed, "feed")
    return problems


OEMBED_URL_KEYS = {"author_url", "provider_url", "thumbnail_url", "url"}


def oembed_problems(answer: dict) -> list[str]:
    problems = []
    for key in OEMBED_URL_KEYS & set(answer):
        if not url_is_safe(str(answer[key])):
            problems.append(f"{key}={answer[key]!r}")
    if "html" in answer:
        problems += [f"html: {p}" for p in iframe_problems(answer["html"])]
    return problems
