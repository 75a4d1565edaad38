"""The bundled sample topic: its records, and the media files it points to."""

from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent
SAMPLE_FILE = SAMPLE_DIR / "north-korean-defectors.json"
SAMPLE_MEDIA = SAMPLE_DIR / "media"
