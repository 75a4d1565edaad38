"""What serving members' URLs needs below the views: secret lookups remembered briefly,
member links, a member's copy of a shared render, sightings, signed media URLs.

One render per topic and format serves every member (docs/members.md): it is made with
`stories.members.SECRET_PLACEHOLDER` where each member's secret goes, kept in the render
cache (and Redis) like any feed, and the member's secret is put in as it is served. So
no cache ever holds a body with a secret in it, and 10,000 members cost one render.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.http import is_resource_modified, quote_etag

from stories.members import APP, NETWORK, SECRET_PLACEHOLDER, MemberStore, SecretMatch, sighting_hash

from .links import Links
from .rendered import Rendered
from .settings import Settings

PLACEHOLDER_BYTES = SECRET_PLACEHOLDER.encode()
MEMBER_PREFIX = "/m/"


def shared_member_path(path: str, secret: str) -> str:
    """A member URL's path with the placeholder for the secret: the one URL under which
    the fast path knows every member's copy of a shared render."""
    return MEMBER_PREFIX + SECRET_PLACEHOLDER + path[len(MEMBER_PREFIX) + len(secret):]

# Files under MEDIA_DIR/members/ are members' only: /media/ serves them only with a
# signature (`MediaSigner`), /m/<secret>/media/ to live members.
MEMBER_MEDIA_DIR = "members"


def is_member_file(relative: str) -> bool:
    """Whether a path relative to MEDIA_DIR (as `media_relative` gives it) is a members'
    file."""
    return relative.split("/", 1)[0] == MEMBER_MEDIA_DIR


def media_relative(media_dir: str, path: str) -> str:
    """The path `regular_file_in` resolved, relative to the media folder, "/"-separated:
    whatever spelling the URL used ("./members/x", "members//x"), the file it names."""
    return Path(path).relative_to(os.path.realpath(media_dir)).as_posix()


@dataclass(frozen=True)
class MemberLinks(Links):
    """The site's links in a member's feed: the feed's own pages and member media lead
    through the member's secret (the placeholder, until served); everything public
    stays as in the public feeds, so public items keep their URLs and guids.

    The transcript page and files of a story in `member_stories` (the member items of what
    is rendered) are the member's too: `/stories/<id>/...` answers 404 for a member item,
    `/m/<secret>/stories/<id>/...` serves it to live members (web/members.py)."""

    member_stories: frozenset[str] = frozenset()

    def __hash__(self) -> int:
        return self._hash ^ 1  # never equal to the public Links of the same site

    @classmethod
    def of(cls, links: Links, member_stories: Iterable[str] = ()) -> MemberLinks:
        return cls(links.site_url, links.media_base_url, member_stories=frozenset(member_stories))

    @property
    def prefix(self) -> str:
        return f"{self.site_url}m/{SECRET_PLACEHOLDER}/"

    def absolute(self, path: str) -> str:
        path = path.lstrip("/")
        # A topic's feed pages (`feeds.urls.feed_url`): the member's own.
        if path.startswith("topics/") and _FEED_PATH.fullmatch(path):
            return self.prefix + path
        if path.startswith("stories/") and self.member_stories:
            found = _STORY_FILE_PATH.fullmatch(path)
            if found is not None and unquote(found.group(1)) in self.member_stories:
                return self.prefix + path
        return super().absolute(path)

    def media(self, url: str) -> str:
        if url.startswith(f"/media/{MEMBER_MEDIA_DIR}/"):
            return self.prefix + url.lstrip("/")
        return super().media(url)


_FEED_PATH = re.compile(r"topics/[^/]+/(?:pages/[^/]+/)?(?:rss\.xml|atom\.xml|feed\.json|podcast\.xml)(?:\?.*)?")
# A story's transcript page and its audio's files (web/transcripts.py): group 1 the id.
_STORY_FILE_PATH = re.compile(r"stories/([^/]+)/(?:transcript|audio/[^/]+/(?:transcript\.[a-z]+|chapters\.json))")


class SecretMemo:
    """Secret lookups remembered for `ttl` seconds (LRU, bounded), forgotten at once on a
    change to members here (`members_changed`) or, with Redis, anywhere (change notices).

    Only secrets that exist are remembered: a guess costs an index lookup, and guesses
    cannot push real members out. Keys are the secrets' hashes, never the secrets.
    """

    MAX_KEYS = 4096

    def __init__(self, members: MemberStore, ttl: float = 5.0):
        from stories.members import members_changed

        self.members = members
        self.ttl = ttl
        self._memo: OrderedDict[str, tuple[SecretMatch, float]] = OrderedDict()
        self._forgotten = 0
        members_changed.connect(self.forget, sender=members)

    def forget(self, *_sender: object, **_kw: object) -> None:
        self._forgotten += 1
        self._memo = OrderedDict()

    def peek(self, secret: str) -> SecretMatch | None:
        """The remembered answer for `secret`, if still trusted; never asks the store (the
        WSGI fast path's lookup: a miss goes to Flask, which asks)."""
        found = self._memo.get(hashlib.sha256(secret.encode()).hexdigest())
        if found is not None and time.monotonic() - found[1] < self.ttl:
            return found[0]
        return None

    def lookup(self, secret: str) -> SecretMatch | None:
        key = hashlib.sha256(secret.encode()).hexdigest()
        now = time.monotonic()
        found = self._memo.get(key)
        if found is not None and now - found[1] < self.ttl:
            return found[0]
        forgotten = self._forgotten
        match = self.members.lookup(secret)
        if match is not None and forgotten == self._forgotten and self.ttl > 0:
            memo = self._memo
            if len(memo) >= self.MAX_KEYS and key not in memo:
                try:
                    memo.popitem(last=False)
                except KeyError:
                    pass
            memo[key] = (match, now)
        return match


def member_etag(rendered: Rendered, member_id: int, secret: str) -> str:
    """Each member's own ETag of a shared render (one-way: it tells nothing of the secret)."""
    return hashlib.sha256(f"{member_id}|{secret}|{rendered.etag}".encode()).hexdigest()[:32]


def member_answer(rendered: Rendered, member_id: int, secret: str, environ: dict[str, object]
                  ) -> tuple[int, list[tuple[str, str]], bytes | None]:
    """(status, headers, body) of the member's copy of `rendered`: the secret put in,
    `Cache-Control: private` (no shared cache may keep it), its own ETag, 304 when the
    client has it. Sent uncompressed: the gzip form kept is of the placeholder's body."""
    etag = quote_etag(member_etag(rendered, member_id, secret))
    headers = [("ETag", etag), ("Cache-Control", "private, no-cache"),
               ("X-Robots-Tag", "noindex, nofollow")]
    if (environ.get("HTTP_IF_NONE_MATCH") or "HTTP_IF_MODIFIED_SINCE" in environ) and \
            environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
        if environ.get("HTTP_IF_NONE_MATCH") == etag or not is_resource_modified(
                environ, etag=etag.strip('"'), last_modified=rendered.last_modified):
            return 304, headers, None
    body = rendered.body.replace(PLACEHOLDER_BYTES, secret.encode())
    last_modified = rendered.validators[2]  # formatted once per render, not per answer
    if last_modified is not None:
        headers.append(("Last-Modified", last_modified))
    headers += [("Content-Type", rendered.content_type), ("Content-Length", str(len(body)))]
    return 200, headers, body


# -- sightings: where a secret is used from ------------------------------------------

def network_of(address: str | None) -> str | None:
    """The /24 (IPv4) or /64 (IPv6) a client address is in; None when it is no address."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


# App families as their user agents name them; the first match wins. Versions, devices
# and OS builds are left out: one listener updating an app is still one app.
_APP_FAMILIES = (
    ("apple", ("applecoremedia", "itunes", "podcasts/", "ipod")), ("overcast", ("overcast",)),
    ("pocketcasts", ("pocket casts", "pocketcasts")), ("antennapod", ("antennapod",)),
    ("castro", ("castro",)), ("podcastaddict", ("podcastaddict", "podcast addict")),
    ("spotify", ("spotify",)), ("gpodder", ("gpodder",)), ("podget", ("podget",)),
    ("newsboat", ("newsboat",)), ("wget", ("wget",)), ("curl", ("curl",)),
    ("browser", ("mozilla",)),
)
MAX_FAMILY = 40


def app_family(user_agent: str | None) -> str:
    ua = (user_agent or "").lower()
    for family, marks in _APP_FAMILIES:
        if any(mark in ua for mark in marks):
            return family
    first = ua.split("/", 1)[0].split(" ", 1)[0].strip()
    return first[:MAX_FAMILY] or "unknown"


class Sightings:
    """Notes where each member's secret is used from, writing each (member, network) and
    (member, app) at most once per `interval` per process: a member polling every few
    minutes costs a write an hour, not one per poll. The set of what was written lately
    is bounded, so memory does not grow with the members who fetched."""

    MAX_KEYS = 4096  # each of the two tables: as many as the secrets remembered

    def __init__(self, members: MemberStore, interval: float = 3600.0):
        self.members = members
        self.interval = interval
        self._written: OrderedDict[tuple[int, str, str], float] = OrderedDict()
        # Oldest first: the table stays full once filled, instead of emptied and refilled.
        self._clients: OrderedDict[tuple[int, int, str | None, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, member_id: int, secret: str, address: str | None,
             user_agent: str | None) -> Callable[[], None] | None:
        """What to write of this use of the secret (None: nothing new), to be run once
        the answer is sent: the client does not wait for the database's write."""
        # A poll like the last one from this client: nothing to work out again (the
        # prefix and the HMACs cost more than the rest of a warm answer).
        # The secret's hash() too: a rotated secret's polls are counted afresh. The agent
        # cut short: only a live member's requests get here, but each could send 8 KB.
        client = (member_id, hash(secret), address, (user_agent or "")[:200])
        now = time.monotonic()
        at = self._clients.get(client)
        if at is not None and now - at < self.interval:
            return None
        clients = self._clients
        clients[client] = now
        clients.move_to_end(client)
        if len(clients) > self.MAX_KEYS:
            try:
                clients.popitem(last=False)
            except KeyError:  # emptied meanwhile by another thread
                pass
        found = []
        network = network_of(address)
        if network is not None:
            found.append((NETWORK, sighting_hash(secret, network)))
        found.append((APP, sighting_hash(secret, app_family(user_agent))))
        new = []
        with self._lock:
            for kind, value in found:
                key = (member_id, kind, value)
                at = self._written.get(key)
                if at is not None and now - at < self.interval:
                    continue
                self._written[key] = now
                self._written.move_to_end(key)
                new.append((kind, value))
            while len(self._written) > self.MAX_KEYS:
                self._written.popitem(last=False)
        if not new:
            return None
        return functools.partial(self.members.record_sightings, member_id, new)


# -- signed media URLs (MEDIA_BASE_URL elsewhere) -------------------------------------

class MediaSigner:
    """Short-lived signatures of member media paths (itsdangerous): the member's URL
    redirects to MEDIA_BASE_URL with one, and /media/ serves a members' file only with a
    valid one. The key is shared by every instance (MEMBER_MEDIA_KEY)."""

    def __init__(self, key: str, max_age: int):
        self.serializer = URLSafeTimedSerializer(key, salt="storyfeed-member-media")
        self.max_age = max_age

    def signed_url(self, links: Links, relative: str) -> str:
        token = self.serializer.dumps(relative)
        return f"{links.media_base_url}{quote(relative)}?sig={token}"

    def verify(self, relative: str, token: str | None) -> bool:
        if not token or len(token) > 1000:
            return False
        try:
            signed = self.serializer.loads(token, max_age=self.max_age)
        except BadSignature:  # SignatureExpired is one
            return False
        return bool(signed == relative)


@dataclass(frozen=True)
class Members:
    """What serving members keeps for the app's life (an area of `AppState`)."""

    store: MemberStore
    secrets: SecretMemo
    sightings: Sightings
    signer: MediaSigner | None  # None: member media served by the app itself
    max_networks: int
    max_apps: int

    @classmethod
    def build(cls, store: MemberStore, settings: Settings) -> Members:
        key = settings["MEMBER_MEDIA_KEY"]
        return cls(
            store=store,
            secrets=SecretMemo(store, ttl=settings["MEMBER_MEMO_SECONDS"]),
            sightings=Sightings(store),
            signer=MediaSigner(key, settings["MEMBER_MEDIA_URL_SECONDS"]) if key else None,
            max_networks=settings["MEMBER_SHARING_NETWORKS"],
            max_apps=settings["MEMBER_SHARING_APPS"],
        )
