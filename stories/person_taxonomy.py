"""The Podcasting 2.0 person taxonomy: the roles and groups `podcast:person` may name.

person_taxonomy.json is the role and group of every entry of `taxonomy.json` in
Podcastindex-org/podcast-namespace (the Podcast Taxonomy Project's list), descriptions
left out. The values keep their upstream spelling (trailing spaces, "Translater") so that
an update is a plain copy; the namespace compares them case-insensitively, and so do we,
after stripping.
"""

from __future__ import annotations

import json
from pathlib import Path

_ENTRIES = json.loads(Path(__file__).with_name("person_taxonomy.json").read_text(encoding="utf-8"))

# Lower-cased group -> the group as spelled.
GROUPS: dict[str, str] = {}
# Lower-cased role -> {group as spelled: role as spelled}; "Editor" is in two groups.
ROLES: dict[str, dict[str, str]] = {}
for _entry in _ENTRIES:
    _group, _role = _entry["group"].strip(), _entry["role"].strip()
    GROUPS[_group.lower()] = _group
    ROLES.setdefault(_role.lower(), {})[_group] = _role
