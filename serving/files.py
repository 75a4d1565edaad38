"""Files of ours on disk that may be served: only regular files, reached without symlinks."""

from __future__ import annotations

import os
import stat

from werkzeug.security import safe_join


def regular_file_in(directory: str, filename: str) -> str | None:
    """The path of `filename` inside `directory` if it is a regular file reached without
    following any symlink; None otherwise.

    A symlink planted in the media folder (or a folder it holds) must not serve what it
    points to: /etc/passwd, the database, another app's files.
    """
    root = os.path.realpath(directory)
    path = safe_join(root, filename)  # refuses "..", absolute paths and the like
    if path is None or os.path.realpath(path) != path:
        return None
    try:
        mode = os.lstat(path).st_mode
    except (OSError, ValueError):
        return None
    return path if stat.S_ISREG(mode) else None
