"""Player snippets rewritten into oEmbed responses, and storyfeed's embeddable player.

- `providers`: the registry of player URL forms (NPR built in, more by PLAYER_PROVIDERS).
- `snippets`: `parse_player_snippet` (html.parser, never regex over HTML),
  `render_player_iframe` (rebuilt with markupsafe), `SnippetRefused`.
- `oembed`: `build_oembed_response`, `match_oembed_url`, `oembed_for_match`,
  `oembed_for_snippet`, `oembed_to_xml`.
- `player`: `player_page`, what the embeddable player shows of one audio (sources best
  first, captions, chapters, transcript, share, Media Session).
- `config`: `EmbedSettings`, built by the app factory from the settings table.

The blueprint is `web.embeds`; the command, `web.cli.embeds` (`flask --app app embeds convert`).
"""
