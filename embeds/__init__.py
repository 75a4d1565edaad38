"""Player snippets rewritten into oEmbed responses, and storyfeed's embeddable player.

- `providers`: the registry of player URL forms (NPR built in, more by PLAYER_PROVIDERS).
- `snippets`: `parse_player_snippet` (html.parser, never regex over HTML),
  `render_player_iframe` (rebuilt with markupsafe), `SnippetRefused`.
- `oembed`: `build_oembed_response`, `match_oembed_url`, `oembed_for_match`, `oembed_for_snippet`, `oembed_to_xml`.
- `player`: `player_page`, what the embeddable player shows of one audio (sources best
  first, captions, chapters, transcript, share, Media Session).
- `views`: the blueprint; `cli`: `flask --app app embeds convert`.
"""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Settings, blueprint and CLI of the embeds area."""
    from . import cli, config, views

    config.configure(app)
    app.register_blueprint(views.bp)
    cli.register(app)
