"""The embeds settings (README, "Configuration") and the provider registry of the running app."""

from __future__ import annotations

from functools import lru_cache
from typing import Mapping

from flask import Flask, current_app

from web.links import Links

from .oembed import OEmbedSettings
from .providers import ProviderRegistry, load_providers, registry_for_site

DEFAULTS = {
    "OEMBED_PROVIDER_NAME": "storyfeed",
    "OEMBED_PROVIDER_URL": None,  # the site URL
    "OEMBED_CACHE_AGE": 3600,
    "PLAYER_PROVIDERS": None,
}
REGISTRY_KEY = "storyfeed.player_providers"


def configure(app: Flask) -> None:
    """Fill defaults and check the settings once, so a bad one stops the app at start."""
    for key, default in DEFAULTS.items():
        if app.config.get(key) in (None, ""):
            app.config[key] = default
    try:
        cache_age = int(app.config["OEMBED_CACHE_AGE"])
    except (TypeError, ValueError):
        raise ValueError("OEMBED_CACHE_AGE must be a whole number of seconds") from None
    if cache_age < 0:
        raise ValueError("OEMBED_CACHE_AGE must be a whole number of seconds")
    app.config["OEMBED_CACHE_AGE"] = cache_age
    app.extensions[REGISTRY_KEY] = load_providers(app.config["PLAYER_PROVIDERS"])


def oembed_settings(config: Mapping, links: Links) -> OEmbedSettings:
    return OEmbedSettings(
        provider_name=config["OEMBED_PROVIDER_NAME"],
        provider_url=config["OEMBED_PROVIDER_URL"] or links.site_url,
        cache_age=config["OEMBED_CACHE_AGE"],
    )


# Bounded: without SITE_URL the site URL comes from the request's Host header.
_registry_for_site = lru_cache(maxsize=32)(registry_for_site)


def site_registry(links: Links, app: Flask | None = None) -> ProviderRegistry:
    """The configured providers plus storyfeed's own player at this site's URL."""
    base = (app or current_app).extensions[REGISTRY_KEY]
    return _registry_for_site(base, links.site_url)
