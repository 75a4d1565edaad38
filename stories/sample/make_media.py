"""Regenerate the sample topic's media and write what was measured into the sample data.

The sample must play, but NPR's audio and pictures are not ours to ship, so each story
gets about a minute of speech and a plain picture carrying its caption's credit; the topic
gets 1400x1400 artwork (Apple's minimum).

The speech reads the story's headline, teaser, image caption and credit, one chapter
each. Every sentence (long ones: every phrase) is spoken by espeak-ng into a WAV file of
its own; the cue times of the transcript are the sums of the durations of the WAVs before
it, counted in samples, so the WebVTT and Podcast Index JSON transcripts, the chapters and
the soundbite are measured, not guessed. The joined WAV is encoded once as MP3 (lame,
32 kbps mono, the enclosure) and once as Opus (opusenc, the alternate).

    apt-get install espeak-ng lame opus-tools
    .venv/bin/python -m stories.sample.make_media

Needs Pillow, mutagen and webvtt-py (requirements-dev.txt). Rewrites the files in media/
and, in north-korean-defectors.json, each audio's `length`, `duration`, `transcripts`,
`chapters`, `soundbites` and `alternates` and the pictures' `width` and `height`; the
rest of the data (persons, episode numbers, notes) is edited by hand.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import tempfile
import textwrap
import wave
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import webvtt
from mutagen.mp3 import MP3
from mutagen.oggopus import OggOpus
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
DATA = HERE / "north-korean-defectors.json"
MEDIA = HERE / "media"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

WORDS_PER_MINUTE = 135
CHAPTER_PAUSE = 0.8  # seconds of silence after each chapter
MP3_KBPS = 32
OPUS_KBPS = 20
LANGUAGE = "en-US"
# A sentence longer than this is spoken (and captioned) phrase by phrase.
LONG_SENTENCE = 90
REPORTER_AVATAR = "reporter.jpg"

# Where a full stop does not end a sentence: initials (U.S.) and the abbreviations
# the captions use (Nov. 22).
_ABBREVIATION = re.compile(r"(?:\b(?:[A-Z]\.)+|\b(?:Jan|Feb|Aug|Sept|Oct|Nov|Dec|Mr|Mrs|Ms|Dr|St)\.)$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“‘'])")
# Phrases break after a comma or before a dash, not inside "Nov. 22, 2017".
_PHRASE_BREAK = re.compile(r"(?<=,)\s+(?=[A-Za-z])|\s+(?=— )")


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default(size)


def make_picture(target: Path, size: tuple[int, int], lines: list[str], hue: int) -> None:
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    w, h = size
    for y in range(h):  # a vertical gradient, so it reads as a picture and not a blank
        shade = int(40 + 60 * y / h)
        draw.line([(0, y), (w, y)], fill=(shade // 2, shade // 2 + hue // 4, shade + hue // 2))
    text_px = max(18, w // 22)
    big = font(text_px)
    y = h // 3
    for line in lines:
        for part in textwrap.wrap(line, width=max(10, w // (text_px // 2 + 6))):
            draw.text((w // 16, y), part, font=big, fill=(240, 240, 240))
            y += int(text_px * 1.4)
    image.save(target, quality=80, optimize=True)


def sentences(text: str) -> list[str]:
    """`text` cut into sentences, and sentences longer than LONG_SENTENCE into phrases."""
    out: list[str] = []
    for part in _SENTENCE_END.split(text.strip()):
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] += " " + part
        else:
            out.append(part)
    phrases: list[str] = []
    for sentence in out:
        if len(sentence) <= LONG_SENTENCE:
            phrases.append(sentence)
            continue
        pieces = _PHRASE_BREAK.split(sentence)
        current = pieces[0]
        for piece in pieces[1:]:
            if len(current) + 1 + len(piece) <= LONG_SENTENCE:
                current += " " + piece
            else:
                phrases.append(current)
                current = piece
        phrases.append(current)
    return phrases


def full_stop(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


@dataclass
class Cue:
    start: int  # in samples
    end: int
    text: str


@dataclass
class Part:
    title: str
    cues: list[Cue]


class Speech:
    """Speech joined sentence by sentence, remembering where each one lies."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.frames = bytearray()
        self.rate = 0
        self.parts: list[Part] = []

    @property
    def samples(self) -> int:
        return len(self.frames) // 2  # 16-bit mono

    def seconds(self, samples: int) -> float:
        return round(samples / self.rate, 3)

    def chapter(self, title: str, texts: list[str]) -> None:
        part = Part(title, [])
        for text in texts:
            wav = self.workdir / f"{len(self.frames)}.wav"
            subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(WORDS_PER_MINUTE), "-w", str(wav), text],
                           check=True)
            with wave.open(str(wav)) as spoken:
                assert spoken.getnchannels() == 1 and spoken.getsampwidth() == 2
                self.rate = self.rate or spoken.getframerate()
                assert spoken.getframerate() == self.rate
                start = self.samples
                self.frames += spoken.readframes(spoken.getnframes())
            part.cues.append(Cue(start, self.samples, text))
        self.frames += bytes(2 * round(CHAPTER_PAUSE * self.rate))
        self.parts.append(part)

    def write_wav(self, target: Path) -> None:
        with wave.open(str(target), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(self.rate)
            out.writeframes(bytes(self.frames))

    @property
    def cues(self) -> list[Cue]:
        return [cue for part in self.parts for cue in part.cues]


def write_vtt(speech: Speech, target: Path) -> None:
    captions = webvtt.WebVTT()
    for cue in speech.cues:
        # Cue text is markup in WebVTT: & and < must be escaped.
        captions.captions.append(webvtt.Caption(
            str(webvtt.models.Timestamp.from_seconds(speech.seconds(cue.start))),
            str(webvtt.models.Timestamp.from_seconds(speech.seconds(cue.end))),
            html.escape(cue.text, quote=False),
        ))
    captions.save(str(target))


def write_json_transcript(speech: Speech, target: Path) -> None:
    """The Podcast Index JSON transcript format, one segment per cue."""
    segments = [
        {"startTime": speech.seconds(c.start), "endTime": speech.seconds(c.end), "body": c.text}
        for c in speech.cues
    ]
    document = {"version": "1.0.0", "segments": segments}
    target.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def chapters_of(speech: Speech, story: dict[str, Any]) -> dict[str, Any]:
    """Podcast Index JSON chapters, each from its first cue to the next chapter."""
    starts = [part.cues[0].start for part in speech.parts] + [speech.samples]
    chapters = []
    for i, part in enumerate(speech.parts):
        chapter = {
            "startTime": speech.seconds(starts[i]),
            "title": part.title,
            "endTime": speech.seconds(starts[i + 1]),
        }
        if part.title == "The picture":
            chapter["img"] = story["image"]["url"]
        if part.title == "Headline":
            chapter["url"] = story["url"]
        chapters.append(chapter)
    return {"version": "1.2.0", "chapters": chapters}


def script(story: dict[str, Any]) -> list[tuple[str, list[str]]]:
    image = story["image"]
    return [
        ("Headline", ["A storyfeed sample, read by a synthetic voice.", full_stop(story["title"])]),
        ("In brief", sentences(story["teaser"])),
        ("The picture", sentences(image["caption"])),
        ("Credit", [f"Photo: {full_stop(image['credit'])}"]),
    ]


def make_story_audio(story: dict[str, Any], audio: dict[str, Any], folder: Path) -> None:
    stem = Path(audio["url"]).stem
    mp3, opus = folder / f"{stem}.mp3", folder / f"{stem}.opus"
    with tempfile.TemporaryDirectory() as tmp:
        speech = Speech(Path(tmp))
        for title, texts in script(story):
            speech.chapter(title, texts)
        wav = Path(tmp) / "speech.wav"
        speech.write_wav(wav)
        subprocess.run(["lame", "--quiet", "-m", "m", "-b", str(MP3_KBPS), str(wav), str(mp3)],
                       check=True)
        # A fixed stream serial (opusenc picks a random one) keeps a rerun byte-identical.
        subprocess.run(["opusenc", "--quiet", "--bitrate", str(OPUS_KBPS),
                        "--serial", str(zlib.crc32(stem.encode())), str(wav), str(opus)],
                       check=True)
    write_vtt(speech, folder / f"{stem}.vtt")
    write_json_transcript(speech, folder / f"{stem}.json")

    audio["length"] = mp3.stat().st_size
    audio["duration"] = round(MP3(mp3).info.length)
    media = audio["url"].rsplit("/", 1)[0]
    audio["transcripts"] = [
        {"url": f"{media}/{stem}.vtt", "type": "text/vtt", "language": LANGUAGE, "captions": True},
        {"url": f"{media}/{stem}.json", "type": "application/json", "language": LANGUAGE},
    ]
    audio["chapters"] = chapters_of(speech, story)
    brief = audio["chapters"]["chapters"][1]
    audio["soundbites"] = [{
        "start": brief["startTime"],
        "duration": round(brief["endTime"] - brief["startTime"], 3),
        "title": "In brief",
    }]
    # mutagen's FileType declares `info` as None and leaves OggOpus.__init__ untyped.
    opus_seconds = OggOpus(opus).info.length  # type: ignore[no-untyped-call, attr-defined]
    audio["alternates"] = [{
        "url": f"{media}/{stem}.opus",
        "type": "audio/ogg",
        "length": opus.stat().st_size,
        "bitrate": round(opus.stat().st_size * 8 / opus_seconds),
        "codecs": "opus",
        "title": "Opus (smaller)",
    }]


def main() -> None:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    topic = data["topics"][0]
    folder = MEDIA / topic["slug"]
    folder.mkdir(parents=True, exist_ok=True)
    art = topic["image"]
    make_picture(folder / Path(art["url"]).name, (1400, 1400),
                 ["storyfeed sample", topic["title"]], 120)
    art["width"], art["height"] = 1400, 1400
    make_picture(folder / REPORTER_AVATAR, (300, 300), ["Sample", "Reporter"], 200)
    for n, story in enumerate(data["stories"]):
        image = story["image"]
        make_picture(folder / Path(image["url"]).name, (800, 450),
                     ["Sample picture", f"Photo: {image['credit']}"], 30 * n)
        image["width"], image["height"] = 800, 450
        for audio in story["audio"]:
            make_story_audio(story, audio, folder)
    DATA.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    total = sum(f.stat().st_size for f in folder.iterdir())
    print(f"wrote {len(list(folder.iterdir()))} files ({total // 1024} KiB) to {folder}")


if __name__ == "__main__":
    main()
