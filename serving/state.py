"""The app's state: everything the factory builds once, in one object, behind one accessor.

`create_app` builds an `AppState` (settings, store, render cache, version memo and its
change-notice subscription, health checks, and what each area keeps) and installs it; views, CLI
commands and template helpers reach it through `app_state()`. Nothing is built lazily
inside a request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, current_app

from stories.store import StoryStore

from .health import Health
from .redis_cache import RedisChangeNotices
from .rendered import RenderCache, VersionMemo
from .settings import BY_NAME, Settings, parse_setting

if TYPE_CHECKING:  # fastpath imports this module
    from .fastpath import FastPath

EXTENSION = "storyfeed"

T = TypeVar("T")


@dataclass(frozen=True)
class AppState:
    settings: Settings
    store: StoryStore
    render_cache: RenderCache
    versions: VersionMemo
    health: Health  # readiness checks, and whether the store's schema lets pages be served
    change_notices: RedisChangeNotices | None = None
    fast_path: FastPath | None = None  # answers warm feeds and oEmbed before Flask (FAST_PATH)
    # What each area keeps for the app's life, by its type (embeds.config.EmbedSettings,
    # sources.config.SourcesConfig, feeds.websub.WebSubPublisher...): this layer knows
    # none of them, and each area asks for its own with `area(kind)`.
    areas: Mapping[type, Any] = field(default_factory=dict)

    def area(self, kind: type[T]) -> T:
        found = self.areas.get(kind)
        if not isinstance(found, kind):
            raise LookupError(f"the app was built without {kind.__name__}")
        return found

    def with_settings(self, **changes: Any) -> AppState:
        """This state with some settings changed (each parsed), for a command that serves
        its one job differently (an export at another public URL). What the factory built
        from the old values stays as it was."""
        settings = dict(self.settings)
        settings.update({name: parse_setting(BY_NAME[name], value) for name, value in changes.items()})
        return dataclasses.replace(self, settings=MappingProxyType(settings))

    def install(self, app: Flask) -> None:
        app.extensions[EXTENSION] = self


def app_state(app: Flask | None = None) -> AppState:
    """The state of `app`, or of the current app."""
    state: AppState = (app or current_app).extensions[EXTENSION]
    return state
