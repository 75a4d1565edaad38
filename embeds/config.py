"""The embeds area's settings and provider registry, built once by the app factory."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from serving.links import Links
from serving.settings import Settings

from .oembed import OEmbedSettings
from .providers import ProviderRegistry, load_providers, registry_for_site


@dataclass(frozen=True)
class EmbedSettings:
    provider_name: str
    provider_url: str | None  # None: the site URL
    cache_age: int
    providers: ProviderRegistry  # the configured providers, without the site's own player

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbedSettings:
        """Raises ProviderConfigInvalid (a SettingsError) for an unusable PLAYER_PROVIDERS."""
        return cls(
            provider_name=settings["OEMBED_PROVIDER_NAME"],
            provider_url=settings["OEMBED_PROVIDER_URL"],
            cache_age=settings["OEMBED_CACHE_AGE"],
            providers=load_providers(settings["PLAYER_PROVIDERS"]),
        )

    def oembed(self, links: Links) -> OEmbedSettings:
        return OEmbedSettings(
            provider_name=self.provider_name,
            provider_url=self.provider_url or links.site_url,
            cache_age=self.cache_age,
        )

    def registry(self, links: Links) -> ProviderRegistry:
        """The configured providers plus storyfeed's own player at this site's URL."""
        return _registry_for_site(self.providers, links.site_url)


# Bounded: without SITE_URL the site URL comes from the request's Host header.
_registry_for_site = lru_cache(maxsize=32)(registry_for_site)
