"""Lighthouse (npm `lighthouse`, pinned in tests/js) on the pages a listener uses (issue 26):
Debian's Chromium, Lighthouse's default mobile form factor and simulated throttling (the
stable one on a loaded machine), the app under real gunicorn. Each page's four category
scores go to test-artifacts/lighthouse-<page>.json; the report beside them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from .browser_support import ARTIFACTS, CHROMIUM
from .conftest import ROOT
from .embeds_support import SAMPLE_STORY
from .servers import Gunicorn, flask_cli, procfile_command, service_env

LIGHTHOUSE = ROOT / "tests" / "js" / "node_modules" / "lighthouse" / "cli" / "index.js"
PAGES = {
    "home": "/",
    "topic": "/topics/north-korean-defectors",
    "story": f"/stories/{SAMPLE_STORY}",
    "transcript": f"/stories/{SAMPLE_STORY}/transcript",
}
# The bar: performance at least 95, every other category 100.
AT_LEAST = {"performance": 95, "accessibility": 100, "best-practices": 100, "seo": 100}

pytestmark = [
    pytest.mark.browser, pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed"),
]


@pytest.fixture(scope="module")
def lighthouse() -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not LIGHTHOUSE.exists():
        done = subprocess.run([shutil.which("npm") or "npm", "ci", "--prefix", str(LIGHTHOUSE.parents[3]),
                               "--no-audit", "--no-fund"], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    return [node, str(LIGHTHOUSE)]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    env = service_env(DATABASE_URL=f"sqlite:///{tmp_path_factory.mktemp('lighthouse') / 'test.sqlite3'}")
    assert flask_cli(env, *procfile_command("release")[3:]).returncode == 0
    assert flask_cli(env, "stories", "sample").returncode == 0
    with Gunicorn(env) as server:
        yield server


def run_lighthouse(command: list[str], url: str, report: str) -> dict:
    done = subprocess.run(
        [*command, url, "--output=json", f"--output-path={report}", "--quiet",
         "--only-categories=performance,accessibility,best-practices,seo",
         "--chrome-flags=--headless=new --no-sandbox --disable-gpu --no-first-run --mute-audio"],
        env={**os.environ, "CHROME_PATH": CHROMIUM}, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with open(report, encoding="utf-8") as file:
        return json.load(file)


@pytest.mark.parametrize("name", list(PAGES))
def test_lighthouse_scores_of_the_pages(served, lighthouse, name):
    ARTIFACTS.mkdir(exist_ok=True)
    report = run_lighthouse(lighthouse, served.base + PAGES[name], str(ARTIFACTS / f"lighthouse-{name}-report.json"))
    categories = report["categories"]
    scores = {key: round(categories[key]["score"] * 100) for key in AT_LEAST}
    failing = {
        key: [audit for audit in (a["id"] for a in categories[key]["auditRefs"] if a["weight"])
              if (report["audits"][audit]["score"] or 0) < 1]
        for key in AT_LEAST if scores[key] < AT_LEAST[key]
    }
    (ARTIFACTS / f"lighthouse-{name}.json").write_text(json.dumps(
        {"url": PAGES[name], "lighthouse": report["lighthouseVersion"], "formFactor":
         report["configSettings"]["formFactor"], "throttling": report["configSettings"]["throttlingMethod"],
         "scores": scores, "load_average": os.getloadavg(), "below": failing}, indent=1) + "\n")
    print(f"lighthouse {name}: {scores} (load {os.getloadavg()[0]:.2f})")
    assert all(scores[key] >= AT_LEAST[key] for key in AT_LEAST), (scores, failing)
