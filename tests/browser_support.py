"""Debian's Chromium, driven by Playwright: what every browser test of the suite shares.

The `browser` fixture (tests/conftest.py) launches it once per module: Playwright's sync
API allows one instance at a time, and the browser tests run in one process (`make test`).
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# The flags this machine needs (no sandbox as root, no GPU, no calls home, which its closed
# network refuses), and audio that plays without a click, muted.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--mute-audio",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
