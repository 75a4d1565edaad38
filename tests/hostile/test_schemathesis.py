"""schemathesis against the service's own /openapi.json, in-process (WSGI): every
operation, without a token and with one, then the stateful links of the document (create
a story or a topic, read it back, page through it, delete it). No answer may be a server
error or differ from what the document says (body schema, status codes)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from web.openapi import load_document

from ..conftest import migrated_sqlite
from .conftest import build_app, dispose
from .payloads import AUTH

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
# Modest and bounded: the whole module stays within a CI budget of well under a minute.
BUDGET = settings(max_examples=12, deadline=2000, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def api_app(tmp_path_factory):
    app = build_app(migrated_sqlite(tmp_path_factory.mktemp("schemathesis") / "s.sqlite3"))
    yield app
    dispose(app)


# The document as served is web/openapi.json itself (tests/test_openapi.py checks that);
# loaded from it here so the operations are known when tests are collected.
CONFIG = schemathesis.Config.from_dict({
    "phases": {"coverage": {"enabled": False}},
    "generation": {"mode": "all", "max-examples": 12, "deterministic": True, "database": "none"},
    # werkzeug's test client hands back gzip bodies as they are; ask for plain ones.
    "headers": {"Accept-Encoding": "identity"},
    # oEmbed 1.0 answers a format it does not serve with 501 (documented); negative
    # cases send such formats on purpose.
    "operations": [{"include-path-regex": "^/oembed", "checks": {
        "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "501"]}}}],
})
schema = schemathesis.openapi.from_dict(load_document(), config=CONFIG)


@schema.parametrize()
@BUDGET
def test_every_operation_without_a_token(api_app, case):
    case.call_and_validate(app=api_app, checks=CHECKS)


@schema.parametrize()
@BUDGET
def test_every_operation_with_a_token(api_app, case):
    case.call_and_validate(app=api_app, headers={**AUTH, "Accept-Encoding": "identity"},
                           checks=CHECKS)


def test_the_document_links_operations_for_stateful_runs():
    links = [
        link
        for operation in schema.get_all_operations()
        for response in operation.ok().definition.raw.get("responses", {}).values()
        for link in (response.get("links") or {})
    ]
    assert len(links) >= 4


# Valid inputs only: links are followed from answers that wrote something.
POSITIVE = schemathesis.openapi.from_dict(load_document(), config=schemathesis.Config.from_dict({
    "generation": {"mode": "positive", "deterministic": True, "database": "none"},
}))


def test_stateful_runs_over_the_links(api_app):
    machine = POSITIVE.as_state_machine()

    class Authenticated(machine):
        def get_call_kwargs(self, case):
            return {"headers": {**AUTH, "Accept-Encoding": "identity"}, "app": api_app}

        def validate_response(self, response, case, additional_checks=(), **kwargs):
            case.validate_response(response, checks=CHECKS)

    run_state_machine_as_test(Authenticated, settings=settings(
        max_examples=15, stateful_step_count=6, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck)))
