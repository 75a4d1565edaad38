"""What the one-minute rule needs to know of an audio file: its bytes per second of audio
and the bytes before the audio (an ID3v2 tag), read once per file and process."""

from __future__ import annotations

import math
from functools import lru_cache

from .recorder import AudioFacts

UNKNOWN = AudioFacts(byte_rate=None, leading=0)


def audio_facts(path: str, size: int, version: str) -> AudioFacts:
    """Memoised by the file's path, size and `version` (its Last-Modified as served): a
    replaced file is read again, and a request costs no system call."""
    return _read(path, size, version)


@lru_cache(maxsize=1024)
def _read(path: str, size: int, _version: str) -> AudioFacts:
    # Here, not at the top: mutagen loads with the first audio file counted.
    import mutagen
    from mutagen.id3 import ID3

    try:
        # mutagen re-exports File without __all__.
        audio = mutagen.File(path)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 (a file mutagen cannot read is counted whole)
        return UNKNOWN
    if audio is None or not getattr(audio.info, "length", 0):
        return UNKNOWN
    leading = audio.tags.size if isinstance(audio.tags, ID3) else 0
    # The average over the file: right for constant and variable bit rates alike, and for
    # formats whose header names no bit rate (Opus).
    byte_rate = math.ceil(max(size - leading, 0) / audio.info.length)
    return AudioFacts(byte_rate=byte_rate or None, leading=leading)
