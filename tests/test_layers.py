"""The layers a newcomer sees in the folders, and imports that only point down.

Every module's imports are read with `ast` (those inside functions too), so a lazy
import cannot hide an upward dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lower numbers are lower layers; a module may import its own layer and those below.
LAYERS = {
    "stories": 0,  # records, validation, the store
    "serving": 1,  # links, render caches, request parameters, settings, app state
    "feeds": 2,  # the areas: renderers, oEmbed, upstream sources
    "embeds": 2,
    "sources": 2,
    "audience": 2,  # download counts: the IAB rules, the agent lists, the report
    "desk": 2,  # the desk's accounts, jobs, search, charts (its pages are web/desk.py)
    "web": 3,  # blueprints and commands
    "app": 4,  # the factory
    "wsgi": 5,  # the app gunicorn serves, built from the environment
}
AREAS = ("feeds", "embeds", "sources", "audience", "desk")
# Never imported by the app: tools and checks that use it from outside.
OUTSIDE = ("tests", "bench", "migrations")


def python_files() -> list[Path]:
    files = [ROOT / "app.py", ROOT / "wsgi.py"]
    for package in LAYERS:
        if (ROOT / package).is_dir():
            files += sorted((ROOT / package).rglob("*.py"))
    return files


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved."""
    name = module_name(path, root)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                # `from . import x` names a module too.
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module or ""))
    return found


def top_package(module: str) -> str:
    return module.split(".")[0]


def upward_imports(files: list[Path], root: Path = ROOT) -> list[str]:
    wrong = []
    for path in files:
        here = top_package(module_name(path, root))
        for line, module in imported_modules(path, root):
            there = top_package(module)
            where = f"{path.relative_to(root).as_posix()}:{line} imports {module}"
            if there in OUTSIDE:
                wrong.append(f"{where}: app code never imports {there}/")
            elif there in LAYERS and LAYERS[there] > LAYERS[here]:
                wrong.append(f"{where}: {there}/ is above {here}/")
            elif here in AREAS and there in AREAS and there != here:
                wrong.append(f"{where}: the areas are independent of each other")
    return wrong


def test_every_import_points_down():
    assert upward_imports(python_files()) == []


def test_no_blueprint_lives_below_web():
    holders = [
        str(path.relative_to(ROOT)) for path in python_files()
        if top_package(module_name(path)) in ("stories", "serving", *AREAS)
        and "Blueprint(" in path.read_text(encoding="utf-8")
    ]
    assert holders == []


# sources/sync.py reads the variable a sources-file entry names (`token_env`): a secret
# whose name the operator chooses, not a setting of the table.
ENVIRONMENT_READERS = {"serving/settings.py", "sources/sync.py"}


def test_only_the_settings_table_reads_the_environment():
    readers = {
        path.relative_to(ROOT).as_posix() for path in python_files()
        if "os.environ" in path.read_text(encoding="utf-8")
    }
    assert readers <= ENVIRONMENT_READERS


@pytest.mark.parametrize("relative, source, expected", [
    ("feeds/x.py", "from web.api import parse_limit\n", "web/ is above feeds/"),
    ("stories/x.py", "def f():\n    from app import create_app\n", "app/ is above stories/"),
    ("serving/x.py", "from feeds.urls import feed_url\n", "feeds/ is above serving/"),
    ("feeds/x.py", "from embeds.config import EmbedSettings\n", "the areas are independent of each other"),
    ("web/x.py", "import bench.common\n", "app code never imports bench/"),
    ("web/sub/x.py", "from ...app import create_app\n", "app/ is above web/"),
])
def test_the_check_sees_an_upward_import(tmp_path, relative, source, expected):
    """The check itself: imports inside functions, relative ones, from bench."""
    path = tmp_path / relative
    path.parent.mkdir(parents=True)
    path.write_text(source)
    [found] = upward_imports([path], tmp_path)
    assert found.startswith(f"{relative}:") and found.endswith(expected)


# The areas and the records take and return plain values; Flask (and the request it
# brings) belongs to web/ and to the serving modules that hook into it. An import through
# a shared module (serving.params once pulled Flask into feeds/) is as much a dependency
# as a direct one, so this imports every module of a package in a fresh interpreter and
# looks at what came along.
FLASK_FREE = ("stories", *AREAS)


@pytest.mark.parametrize("package", FLASK_FREE)
def test_the_areas_and_the_records_never_load_flask(package):
    script = (
        "import importlib, pkgutil, sys\n"
        f"import {package}\n"
        f"for found in pkgutil.walk_packages({package}.__path__, '{package}.'):\n"
        "    importlib.import_module(found.name)\n"
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'flask'}))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()
    assert loaded == "[]", f"importing {package}/ loads Flask"
