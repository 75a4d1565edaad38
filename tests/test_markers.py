"""Every case that needs PostgreSQL or Redis carries its marker.

`make test-fast` leaves them out by marker, and CI turns a skip of a marked test into a
failure (TEST_REQUIRE): a case that needs a service but carries no marker is kept by the
first and, when the service is gone, skips unseen by the second. Over 300 hostile cases
once ran on PostgreSQL through a fixture asked for at run time, with no marker.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The parameter ids of a backend, as the suite spells them, and the marker they need.
BACKEND_IDS = {"postgresql": "postgres", "redis": "redis"}


def collected(marker_expression: str) -> list[str]:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-m", marker_expression, "tests"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert run.returncode in (0, 5), run.stdout[-2000:] + run.stderr[-2000:]
    return [line for line in run.stdout.splitlines() if "::" in line]


@pytest.mark.slow  # collects the whole suite in a subprocess
@pytest.mark.parametrize("backend, marker", BACKEND_IDS.items())
def test_every_backend_parametrized_case_carries_its_marker(backend, marker):
    unmarked = [
        test_id for test_id in collected(f"not {marker}")
        if (params := re.search(r"\[(.*)\]$", test_id)) and backend in params.group(1).split("-")
    ]
    assert unmarked == [], f"{len(unmarked)} {backend} cases without the {marker} marker"
