"""The README and docs/ point at things that exist.

Docs rot quietly: a file is renamed and the prose keeps citing the old name (the README
once sent readers to a `feeds/freshness.py` that never existed). These tests read the
Markdown as a newcomer follows it: every relative link must reach a file (and a heading,
when it names one), and every repository path cited in inline code must exist.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE_RE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
LINK_RE = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN_RE = re.compile(r"`([^`\n]+)`")
HEADING_RE = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
# A path as it would be written in prose: segments of letters, digits, ".", "_", "-".
REPO_PATH_RE = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/?")
TOP_LEVEL_FILE_RE = re.compile(r"[A-Za-z0-9_.-]+\.(py|toml|ini|cfg|txt)|Makefile|Procfile")
# Made when the service or the tests run, not part of a clone: what docs cite under them
# (the default SQLite files) need not exist.
RUNTIME_FOLDERS = {".git", ".venv", "instance", "test-artifacts", "__pycache__"}


def prose(document: Path) -> str:
    """The document without its fenced code blocks (examples, not references)."""
    return FENCE_RE.sub("", document.read_text(encoding="utf-8"))


def heading_anchors(document: Path) -> set[str]:
    """The anchors GitHub gives the document's headings."""
    anchors: set[str] = set()
    for title in HEADING_RE.findall(prose(document)):
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in anchors:
            n += 1
            anchor = f"{slug}-{n}"
        anchors.add(anchor)
    return anchors


def relative_links(document: Path) -> list[str]:
    return [
        target for target in LINK_RE.findall(prose(document))
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto: ...
    ]


def test_the_docs_exist_and_are_linked_from_the_readme():
    assert len(DOCUMENTS) > 1, "docs/ holds no Markdown"
    linked = {
        (ROOT / target.split("#")[0]).resolve() for target in relative_links(ROOT / "README.md")
    }
    assert (ROOT / "docs" / "README.md").resolve() in linked


def test_relative_links_reach_a_file_and_heading():
    broken = []
    for document in DOCUMENTS:
        for target in relative_links(document):
            path, _, anchor = target.partition("#")
            file = (document.parent / path).resolve() if path else document
            where = f"{document.relative_to(ROOT)}: ({target})"
            if not file.exists():
                broken.append(f"{where}: no file {path}")
            elif anchor and file.suffix == ".md" and anchor not in heading_anchors(file):
                broken.append(f"{where}: {file.name} has no heading #{anchor}")
    assert not broken, "\n".join(broken)


def cites_repository_path(span: str, top_level: set[str]) -> bool:
    """`feeds/render.py`, `stories/sample/media`, `gunicorn.conf.py`: a path under one of
    the repository's own top-level folders, or a top-level settings or code file. URL
    paths (`/media/...`, `topics/<slug>`) and runtime folders (`instance/`) are not."""
    if not REPO_PATH_RE.fullmatch(span):
        return False
    if "/" in span:
        return span.split("/")[0] in top_level
    return TOP_LEVEL_FILE_RE.fullmatch(span) is not None


def test_cited_repository_paths_exist():
    top_level = {p.name for p in ROOT.iterdir() if p.is_dir() and p.name not in RUNTIME_FOLDERS}
    missing = [
        f"{document.relative_to(ROOT)}: `{span}` does not exist"
        for document in DOCUMENTS
        for span in CODE_SPAN_RE.findall(prose(document))
        if cites_repository_path(span, top_level) and not (ROOT / span).exists()
    ]
    assert not missing, "\n".join(missing)
