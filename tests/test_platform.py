"""Starting as a platform starts the service: what the Procfile names, app.json, the
deploy guide's commands, the Python version. (The runtime-only install and the processes
themselves are started for real by .ci/platform-smoke, before the tests.)"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib

import jsonschema
import pytest

from .conftest import ROOT
from .servers import procfile_command


def source_files() -> list[str]:
    """The checkout's files, as a clone would have them (new ones too, ignored ones not)."""
    return subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                          cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\0")[:-1]


def python_in_copy(tmp_path, code: str, **environ: str) -> subprocess.CompletedProcess:
    """`code` run by this Python in a copy of the checkout, with `environ` over this
    environment: what appears beside app.py (Flask's instance folder) is seen there."""
    for relative in source_files():
        if not (ROOT / relative).is_file():
            continue  # deleted, not yet committed
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / relative, tmp_path / relative)
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    env.update(environ)
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_importing_app_builds_no_app(tmp_path):
    # A bad LOG_LEVEL would stop create_app: importing must not call it.
    result = python_in_copy(
        tmp_path,
        "import flask, app\n"
        "assert [name for name, value in vars(app).items() if isinstance(value, flask.Flask)] == []\n"
        "assert callable(app.create_app)\n",
        LOG_LEVEL="loud",
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "instance").exists()


@pytest.mark.slow
def test_wsgi_builds_the_app_or_stops_with_one_line(tmp_path):
    built = python_in_copy(tmp_path, "import wsgi; print(type(wsgi.app).__name__)")
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == "StoryfeedFlask"

    refused = python_in_copy(tmp_path, "import wsgi", INGEST_MAX_BYTES="10MB")
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()  # one JSON log line, like every other (serving/logs.py)
    assert json.loads(line)["message"].startswith("storyfeed cannot start: INGEST_MAX_BYTES='10MB'")
    assert "Traceback" not in refused.stderr


@pytest.mark.slow
def test_a_worker_leaves_what_it_built_at_start_out_of_the_garbage_collectors_passes(tmp_path):
    # A full pass over the start-up heap (some 120,000 objects) cost 20 to 200 ms inside
    # whichever request set it off (bench.anonymous).
    built = python_in_copy(tmp_path, "import gc, wsgi; print(gc.get_freeze_count())")
    assert built.returncode == 0, built.stderr
    assert int(built.stdout) > 50_000
    # Importing app.py (tests, tools) freezes nothing.
    imported = python_in_copy(tmp_path, "import gc, app; app.create_app(); print(gc.get_freeze_count())")
    assert imported.returncode == 0, imported.stderr
    assert int(imported.stdout) == 0


def test_the_procfile_web_process_serves_wsgi_app():
    assert procfile_command("web") == ["gunicorn", "wsgi:app"]


# -- app.json (Heroku's button and review apps; Dokku reads it too) ------------------------

APP_JSON = json.loads((ROOT / "app.json").read_text(encoding="utf-8"))
APP_JSON_SCHEMA = json.loads((ROOT / "tests/fixtures/app-json.schema.json").read_text(encoding="utf-8"))


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text(encoding="utf-8").splitlines()
    return {name.strip(): command.strip() for name, _, command in (line.partition(":") for line in lines)}


def make_recipe(target: str) -> list[str]:
    """The commands of a Makefile target, as a shell would run them from the venv: the
    `$(BIN)/` prefix and leading VAR=value assignments dropped."""
    lines = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        words = shlex.split(line.strip().replace("$(BIN)/", ""))
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            words.pop(0)
        recipe.append(shlex.join(words))
    return recipe


def test_app_json_is_valid_against_the_schema():
    jsonschema.Draft202012Validator.check_schema(APP_JSON_SCHEMA)
    validator = jsonschema.Draft202012Validator(APP_JSON_SCHEMA)
    assert list(validator.iter_errors(APP_JSON)) == []
    # The schema refuses what Heroku would ignore or refuse: a misspelt key, a generator
    # other than "secret", a quantity that is not a number.
    for wrong in ({"formations": {}}, {"env": {"X": {"generator": "random"}}},
                  {"formation": {"web": {"quantity": "1"}}}):
        assert not validator.is_valid({**APP_JSON, **wrong}), wrong


def test_app_json_asks_for_what_the_service_needs():
    assert set(APP_JSON["addons"]) == {"heroku-postgresql", "heroku-redis"}
    assert APP_JSON["buildpacks"] == [{"url": "heroku/python"}]
    env = APP_JSON["env"]
    assert env["SITE_URL"]["required"] is True and env["SITE_URL"]["description"]
    assert env["INGEST_TOKENS"]["generator"] == "secret"
    # The clock is off until a SOURCES_FILE is set; every formation is a Procfile process.
    assert APP_JSON["formation"] == {"web": {"quantity": 1}, "clock": {"quantity": 0}}
    assert set(APP_JSON["formation"]) <= set(procfile()) - {"release"}


def test_app_json_sets_only_declared_settings():
    from serving.settings import SETTINGS

    declared = {setting.name for setting in SETTINGS}
    assert set(APP_JSON["env"]) <= declared


def test_app_json_the_procfile_and_make_run_say_the_same_commands():
    commands = procfile()
    postdeploy = APP_JSON["scripts"]["postdeploy"]
    assert postdeploy == "flask --app app stories sample --if-empty"
    # make run: migrate as the release phase does, load the sample as postdeploy does,
    # serve as the web process does.
    assert make_recipe("run") == [commands["release"], postdeploy, commands["web"]]


def test_one_python_version_everywhere():
    """.python-version (read by pyenv, Heroku, Render...) names the version CI runs on
    (.ci/run checks python3 against it) and the one the linters check for."""
    pinned = (ROOT / ".python-version").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"3\.\d+", pinned)
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == pinned
    with (ROOT / "pyproject.toml").open("rb") as file:
        tools = tomllib.load(file)["tool"]
    assert tools["mypy"]["python_version"] == pinned
    assert tools["ruff"]["target-version"] == "py" + pinned.replace(".", "")


# -- docs/deploy.md: the commands CI runs, and no others -----------------------------------

COMMAND = re.compile(r"(?:pip install|gunicorn|flask --app) [^`\"\n,#|]*")


def ci_commands() -> set[str]:
    """The build command .ci/platform-smoke runs, the Procfile's lines and app.json's
    postdeploy: what CI runs as a platform would."""
    smoke = (ROOT / ".ci/platform-smoke").read_text(encoding="utf-8")
    [build] = re.findall(r'^BUILD_COMMAND = "([^"]+)"$', smoke, re.MULTILINE)
    return {build, *procfile().values(), APP_JSON["scripts"]["postdeploy"]}


def commands_in_markdown(text: str) -> list[str]:
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL))
    return [found.strip() for code in fenced + spans for found in COMMAND.findall(code)]


def test_the_deploy_guide_gives_the_commands_ci_runs():
    guide = commands_in_markdown((ROOT / "docs/deploy.md").read_text(encoding="utf-8"))
    assert set(guide) <= ci_commands(), "a command in docs/deploy.md that CI does not run"
    assert ci_commands() <= set(guide), "a command CI runs that docs/deploy.md does not give"


def test_the_command_check_sees_a_command_ci_does_not_run():
    text = "run `gunicorn app:app`, then:\n```toml\nrelease_command = \"flask --app app db migrate\"\n```\n"
    assert commands_in_markdown(text) == ["flask --app app db migrate", "gunicorn app:app"]


def test_ci_runs_the_platform_smoke_before_the_tests():
    lines = [line.strip() for line in (ROOT / ".ci/run").read_text(encoding="utf-8").splitlines()]
    assert lines.index("python3 .ci/platform-smoke") < lines.index("make test")
