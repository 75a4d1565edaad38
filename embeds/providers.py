"""The registry of audio players storyfeed will embed: data, not code.

A provider is a host set, the URL forms of its player (each naming a story id and an
audio id) and of its story pages, the https URL its player is rebuilt at, and the heights
it works at. NPR is built in (`BUILTIN_PROVIDERS`); more come from the `PLAYER_PROVIDERS`
setting in the same JSON shape; storyfeed's own player is added per site URL
(`own_provider`). Matching is anchored on scheme, host, port and the whole path, so
`https://www.npr.org.evil.example/player/embed/1/2` is not NPR's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from stories.errors import SettingsError

ID_PATTERN = "[a-z0-9-]+"
# What a placeholder in a URL form may stand for. Ids are what records allow; the rest
# are the date and slug segments of story page URLs.
PLACEHOLDERS = {
    "story_id": ID_PATTERN,
    "audio_id": ID_PATTERN,
    "year": r"[0-9]{4}",
    "month": r"[0-9]{2}",
    "day": r"[0-9]{2}",
    "slug": r"[^/]+",
}
CAPTURED = ("story_id", "audio_id")
_PLACEHOLDER_RE = re.compile(r"\{([a-z_]+)\}")
_HOST_RE = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?")
DEFAULT_PORTS = {"http": 80, "https": 443}

# NPR's player in its current form and the two older forms still pasted around, and
# NPR's story pages (matched by id). Heights: NPR's snippet says 290; 200-290 are seen.
BUILTIN_PROVIDERS: list[dict[str, Any]] = [
    {
        "name": "NPR",
        "hosts": ["www.npr.org", "npr.org"],
        "players": [
            "/player/embed/{story_id}/{audio_id}",
            {"path": "/player/v2/mediaPlayer.html", "query": {"id": "{story_id}", "m": "{audio_id}"}},
            {"path": "/v2/", "query": {"i": "{story_id}", "m": "{audio_id}", "t": "audio"}},
        ],
        "story_pages": [
            "/{year}/{month}/{day}/{story_id}/{slug}",
            "/{year}/{month}/{day}/{story_id}",
            "/sections/{slug}/{year}/{month}/{day}/{story_id}/{slug}",
        ],
        "player_url": "https://www.npr.org/player/embed/{story_id}/{audio_id}",
        "height": {"default": 290, "min": 200, "max": 290},
        "iframe_title": "NPR embedded audio player",
    },
]

# storyfeed's own player (templates/player.html): full layout from 150 px, compact below.
OWN_PLAYER_HEIGHT = {"default": 180, "min": 60, "max": 400}
OWN_PROVIDER_NAME = "storyfeed"


class ProviderConfigInvalid(SettingsError):
    """A PLAYER_PROVIDERS entry that cannot be used; the message names entry and field."""


@dataclass(frozen=True)
class UrlForm:
    """One URL shape: an anchored path pattern, and query parameters that must be present."""

    template: str  # the path as configured, e.g. "/player/embed/{story_id}/{audio_id}"
    path_re: re.Pattern[str]
    query: tuple[tuple[str, str], ...] = ()  # (parameter, "{placeholder}" or literal value)

    def match(self, path: str, query: str) -> dict[str, str] | None:
        found = self.path_re.fullmatch(path)
        if found is None:
            return None
        values = {k: v for k, v in found.groupdict().items() if v is not None}
        if self.query:
            params = parse_qs(query, keep_blank_values=True)
            for name, expected in self.query:
                given = params.get(name, [])
                if len(given) != 1:  # absent, or given twice: ambiguous either way
                    return None
                placeholder = _PLACEHOLDER_RE.fullmatch(expected)
                if placeholder is None:
                    if given[0] != expected:
                        return None
                    continue
                key = placeholder.group(1)
                if not re.fullmatch(PLACEHOLDERS[key], given[0]):
                    return None
                values[key] = given[0]
        return values

    def scheme_pattern(self) -> str:
        """The form as an oembed.com registry scheme path: placeholders become `*`."""
        path = _PLACEHOLDER_RE.sub("*", self.template)
        return path + ("?*" if self.query else "")


@dataclass(frozen=True)
class HeightRange:
    default: int
    min: int
    max: int

    def clamp(self, height: int | None) -> int:
        if height is None:
            return self.default
        return max(self.min, min(self.max, height))


@dataclass(frozen=True)
class PlayerProvider:
    name: str
    hosts: frozenset[str]  # "host" or "host:port", lowercase
    players: tuple[UrlForm, ...]
    story_pages: tuple[UrlForm, ...]
    player_url: str  # with {story_id} and {audio_id}
    height: HeightRange
    iframe_title: str
    own: bool = False  # storyfeed's own player, on the site's own host

    def player_src(self, story_id: str, audio_id: str) -> str:
        return self.player_url.replace("{story_id}", quote(story_id)).replace(
            "{audio_id}", quote(audio_id)
        )


@dataclass(frozen=True)
class UrlMatch:
    """What a URL named: a player (story and audio ids) or a story page (story id only)."""

    provider: PlayerProvider
    story_id: str
    audio_id: str | None = None

    @property
    def is_player(self) -> bool:
        return self.audio_id is not None

    @property
    def player_src(self) -> str:
        assert self.audio_id is not None
        return self.provider.player_src(self.story_id, self.audio_id)


@dataclass(frozen=True)
class ProviderRegistry:
    providers: tuple[PlayerProvider, ...] = field(default_factory=tuple)

    def with_provider(self, provider: PlayerProvider) -> ProviderRegistry:
        return ProviderRegistry((provider,) + self.providers)

    def for_host(self, scheme: str, hostname: str, port: int | None) -> PlayerProvider | None:
        key = hostname if port in (None, DEFAULT_PORTS.get(scheme)) else f"{hostname}:{port}"
        return next((p for p in self.providers if key in p.hosts), None)

    def known_hosts(self) -> list[str]:
        return sorted(h for p in self.providers for h in p.hosts)

    @property
    def own(self) -> PlayerProvider | None:
        return next((p for p in self.providers if p.own), None)


def compile_form(raw: Any, where: str, *, needs: tuple[str, ...]) -> UrlForm:
    """A URL form from its configuration: a path string, or {"path", "query"}."""
    if isinstance(raw, str):
        raw = {"path": raw}
    if not isinstance(raw, dict) or set(raw) - {"path", "query"} or "path" not in raw:
        raise ProviderConfigInvalid(f'{where}: must be a path or {{"path", "query"}}')
    path, query = raw["path"], raw.get("query") or {}
    if not isinstance(path, str) or not path.startswith("/"):
        raise ProviderConfigInvalid(f"{where}.path: must be a string starting with /")
    if not isinstance(query, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in query.items()
    ):
        raise ProviderConfigInvalid(f"{where}.query: must map parameter names to strings")
    named = _PLACEHOLDER_RE.findall(path) + [
        m.group(1) for v in query.values() if (m := _PLACEHOLDER_RE.fullmatch(v))
    ]
    for name in named:
        if name not in PLACEHOLDERS:
            raise ProviderConfigInvalid(
                f"{where}: unknown placeholder {{{name}}}; known: "
                + ", ".join(f"{{{k}}}" for k in PLACEHOLDERS)
            )
    for name in needs:
        if named.count(name) != 1:
            raise ProviderConfigInvalid(f"{where}: must name {{{name}}} exactly once")
    return UrlForm(template=path, path_re=_path_regex(path), query=tuple(query.items()))


def _path_regex(template: str) -> re.Pattern[str]:
    # A trailing "/" is optional, as servers treat "/v2/" and "/v2" alike.
    body = template.rstrip("/") or "/"
    parts, last = [], 0
    for m in _PLACEHOLDER_RE.finditer(body):
        parts.append(re.escape(body[last:m.start()]))
        name = m.group(1)
        pattern = PLACEHOLDERS[name]
        parts.append(f"(?P<{name}>{pattern})" if name in CAPTURED else f"(?:{pattern})")
        last = m.end()
    parts.append(re.escape(body[last:]))
    return re.compile("".join(parts) + ("/?" if body != "/" else ""))


def provider_from_config(raw: Any, where: str) -> PlayerProvider:
    allowed = {"name", "hosts", "players", "story_pages", "player_url", "height", "iframe_title"}
    if not isinstance(raw, dict):
        raise ProviderConfigInvalid(f"{where}: must be an object")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ProviderConfigInvalid(f"{where}: unknown field {unknown[0]!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ProviderConfigInvalid(f"{where}.name: is required")
    where = f"{where} ({name})"
    hosts = raw.get("hosts")
    if not isinstance(hosts, list) or not hosts or not all(
        isinstance(h, str) and _HOST_RE.fullmatch(h) for h in hosts
    ):
        raise ProviderConfigInvalid(
            f"{where}.hosts: must be a list of lowercase host names (no scheme, no path)"
        )
    players = raw.get("players")
    if not isinstance(players, list) or not players:
        raise ProviderConfigInvalid(f"{where}.players: must be a non-empty list of URL forms")
    pages = raw.get("story_pages", [])
    if not isinstance(pages, list):
        raise ProviderConfigInvalid(f"{where}.story_pages: must be a list of URL forms")
    player_url = raw.get("player_url")
    if (
        not isinstance(player_url, str)
        or not _is_https_url(player_url)
        or player_url.count("{story_id}") != 1
        or player_url.count("{audio_id}") != 1
    ):
        raise ProviderConfigInvalid(
            f"{where}.player_url: must be an https URL naming {{story_id}} and {{audio_id}} once"
        )
    return PlayerProvider(
        name=name.strip(),
        hosts=frozenset(hosts),
        players=tuple(
            compile_form(f, f"{where}.players[{i}]", needs=CAPTURED) for i, f in enumerate(players)
        ),
        story_pages=tuple(
            compile_form(f, f"{where}.story_pages[{i}]", needs=("story_id",))
            for i, f in enumerate(pages)
        ),
        player_url=player_url,
        height=_height_range(raw.get("height"), f"{where}.height"),
        iframe_title=str(raw.get("iframe_title") or f"{name.strip()} audio player"),
    )


def _height_range(raw: Any, where: str) -> HeightRange:
    if not isinstance(raw, dict) or set(raw) != {"default", "min", "max"}:
        raise ProviderConfigInvalid(f'{where}: must be {{"default", "min", "max"}} in pixels')
    values = [raw["default"], raw["min"], raw["max"]]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ProviderConfigInvalid(f"{where}: heights must be whole numbers")
    height = HeightRange(*values)
    if not 1 <= height.min <= height.default <= height.max:
        raise ProviderConfigInvalid(f"{where}: needs 1 <= min <= default <= max")
    return height


def read_provider_setting(value: Any) -> list[Any]:
    """PLAYER_PROVIDERS: a list, a JSON list, or the path of a file holding one."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if not isinstance(value, str):
        raise ProviderConfigInvalid("PLAYER_PROVIDERS: must be a JSON list or a file path")
    text = value
    if not value.lstrip().startswith("["):
        try:
            text = Path(value).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProviderConfigInvalid(f"PLAYER_PROVIDERS: cannot read {value}: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProviderConfigInvalid(f"PLAYER_PROVIDERS: not valid JSON: {exc}") from exc
    if not isinstance(data, list):
        raise ProviderConfigInvalid("PLAYER_PROVIDERS: must be a JSON list of providers")
    return data


def load_providers(extra: Any = None) -> ProviderRegistry:
    """The built-in providers plus those of the PLAYER_PROVIDERS setting."""
    configured = read_provider_setting(extra)
    providers = [provider_from_config(p, f"built-in provider {i + 1}")
                 for i, p in enumerate(BUILTIN_PROVIDERS)]
    providers += [provider_from_config(p, f"PLAYER_PROVIDERS entry {i + 1}")
                  for i, p in enumerate(configured)]
    seen: dict[str, str] = {}
    for p in providers:
        for host in p.hosts:
            if host in seen:
                raise ProviderConfigInvalid(
                    f"provider {p.name}: host {host} already belongs to {seen[host]}"
                )
            seen[host] = p.name
    return ProviderRegistry(tuple(providers))


def _is_https_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:  # an unbalanced IPv6 bracket: a config problem, not a traceback
        return False
    return parts.scheme == "https" and bool(parts.hostname)


def own_provider(site_url: str) -> PlayerProvider:
    """storyfeed's own player on the site's host, under the site's path prefix."""
    parts = urlsplit(site_url)
    prefix = parts.path.rstrip("/")
    host = parts.hostname or ""
    if parts.port not in (None, DEFAULT_PORTS.get(parts.scheme)):
        host = f"{host}:{parts.port}"
    base = site_url.rstrip("/") + "/"
    return PlayerProvider(
        name=OWN_PROVIDER_NAME,
        hosts=frozenset({host}),
        players=(compile_form(f"{prefix}/player/{{story_id}}/{{audio_id}}", "own", needs=CAPTURED),),
        story_pages=(compile_form(f"{prefix}/stories/{{story_id}}", "own", needs=("story_id",)),),
        player_url=base + "player/{story_id}/{audio_id}",
        height=HeightRange(**OWN_PLAYER_HEIGHT),
        iframe_title="storyfeed audio player",
        own=True,
    )


def registry_for_site(base: ProviderRegistry, site_url: str) -> ProviderRegistry:
    """`base` with storyfeed's own player first, so the site's host wins over a configured one."""
    return base.with_provider(own_provider(site_url))


def iter_forms(provider: PlayerProvider) -> Iterable[UrlForm]:
    yield from provider.players
    yield from provider.story_pages
