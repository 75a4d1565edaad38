"""Regenerate the sample topic's media and write their true sizes into the sample data.

The sample must play, but NPR's audio and pictures are not ours to ship, so each story
gets a few seconds of speech (espeak-ng, encoded by lame) and a plain picture carrying
its caption's credit; the topic gets 1400x1400 artwork (Apple's minimum).

    apt-get install espeak-ng lame
    .venv/bin/python -m stories.sample.make_media

Needs Pillow and mutagen (requirements-dev.txt). Rewrites the files in media/ and the
`length`, `duration`, `width` and `height` values in north-korean-defectors.json.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import textwrap
from pathlib import Path

from mutagen.mp3 import MP3
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
DATA = HERE / "north-korean-defectors.json"
MEDIA = HERE / "media"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def font(size: int):
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default(size)


def make_audio(text: str, target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-s", "165", "-w", str(wav), text], check=True)
        subprocess.run(
            ["lame", "--quiet", "-m", "m", "--resample", "22.05", "-b", "32", str(wav), str(target)],
            check=True,
        )


def make_picture(target: Path, size: tuple[int, int], lines: list[str], hue: int) -> None:
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    w, h = size
    for y in range(h):  # a vertical gradient, so it reads as a picture and not a blank
        shade = int(40 + 60 * y / h)
        draw.line([(0, y), (w, y)], fill=(shade // 2, shade // 2 + hue // 4, shade + hue // 2))
    big = font(max(18, w // 22))
    y = h // 3
    for line in lines:
        for part in textwrap.wrap(line, width=max(10, w // (big.size // 2 + 6))):
            draw.text((w // 16, y), part, font=big, fill=(240, 240, 240))
            y += int(big.size * 1.4)
    image.save(target, quality=80, optimize=True)


def main() -> None:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    topic = data["topics"][0]
    folder = MEDIA / topic["slug"]
    folder.mkdir(parents=True, exist_ok=True)
    art = topic["image"]
    make_picture(folder / Path(art["url"]).name, (1400, 1400),
                 ["storyfeed sample", topic["title"]], 120)
    art["width"], art["height"] = 1400, 1400
    for n, story in enumerate(data["stories"]):
        image = story["image"]
        make_picture(folder / Path(image["url"]).name, (800, 450),
                     ["Sample picture", f"Photo: {image['credit']}"], 30 * n)
        image["width"], image["height"] = 800, 450
        for audio in story["audio"]:
            target = folder / Path(audio["url"]).name
            make_audio(f"storyfeed sample audio. {story['title']}.", target)
            audio["length"] = target.stat().st_size
            audio["duration"] = round(MP3(target).info.length)
    DATA.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(list(folder.iterdir()))} files to {folder}")


if __name__ == "__main__":
    main()
