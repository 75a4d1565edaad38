"""The golden request log of tests/fixtures/audience and the audio files it names."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

from mutagen.id3 import ID3, TIT2

from audience.count import Fetch
from audience.listeners import listener_hash
from stories.sample import SAMPLE_MEDIA

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "audience"
# 56 s of MP3 at 32 kbit/s (4,000 bytes a second): shorter than a minute.
SAMPLE_MP3 = SAMPLE_MEDIA / "north-korean-defectors" / "1169825816.mp3"
TEST_SALT = b"golden-log-salt"


def make_media(folder: Path) -> Path:
    """The log's two files in `folder`: short.mp3 (the sample, 56 s) and long.mp3 (the
    sample twice, 112 s, behind an ID3 tag of 1,028 bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SAMPLE_MP3, folder / "short.mp3")
    (folder / "long.mp3").write_bytes(SAMPLE_MP3.read_bytes() * 2)
    tag = ID3()
    tag.add(TIT2(encoding=3, text="golden"))
    tag.save(folder / "long.mp3", padding=lambda info: 1000)
    return folder


def golden_log() -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / "golden.jsonl").read_text().splitlines() if line]


def golden_answers() -> dict:
    answers: dict = json.loads((FIXTURES / "golden-answers.json").read_text())
    return answers


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def fetch_of(row: dict, salt: bytes = TEST_SALT) -> Fetch:
    files = golden_answers()["files"]
    facts = files[row["file"]]
    listener = listener_hash(row["client"], salt)
    assert listener is not None
    return Fetch(at=parse_time(row["at"]), listener=listener, user_agent=row["user_agent"],
                 episode=row["file"], method=row["method"], status=row["status"],
                 first=row["first"], last=row["last"], file_size=facts["size"],
                 byte_rate=facts["byte_rate"], leading=facts["leading"])


def golden_fetches() -> list[Fetch]:
    return [fetch_of(row) for row in golden_log()]
