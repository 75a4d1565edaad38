"""Audience counts: IAB v2.1 downloads of the media storyfeed serves, per episode, UTC day
and app, from fetches recorded without addresses (docs/audience.md). No Flask, no HTTP:
web/media.py records, web/cli/audience.py and web/audience.py report."""
