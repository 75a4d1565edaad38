"""The one family of storyfeed's own errors, grouped by what a caller does about them.

Callers catch a kind, not a module's private class: a view lets every `StoryfeedError`
reach `web.errors`, which maps the kind to an HTTP status in one place; the CLI turns one
into a message. Specific classes (RecordInvalid, SnippetRefused, RetrieveError...) stay
where they are raised, as subclasses of a kind, so that their names still say what failed.
A subclass may carry `status` when a protocol fixes one (oEmbed answers 401 and 501).
"""

from __future__ import annotations


class StoryfeedError(Exception):
    """Anything storyfeed refuses or cannot do; the message is for people."""

    status: int | None = None  # an HTTP status a protocol requires, else the kind's


class InvalidInput(StoryfeedError):
    """What was given cannot be used: a record, a file, a cursor, a snippet, a setting."""


class SettingsError(InvalidInput):
    """A setting (environment variable or create_app override) that cannot be used;
    the message names the variable."""


class NotFound(StoryfeedError):
    """What was asked for does not exist (or has nothing to serve)."""


class NotAllowed(StoryfeedError):
    """It exists, but its owner does not allow this (audio that may not be embedded,
    an address a source may not reach)."""


class Unavailable(StoryfeedError):
    """Something storyfeed depends on does not answer now; trying later may work."""


class UpstreamError(StoryfeedError):
    """An upstream source failed: its document could not be had, or is not what it claims."""
