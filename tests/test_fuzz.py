"""schemathesis against the app, in-process, from the document the app serves.

Two passes over every operation: one with AUTH_DISABLED (the document
without its security requirements, as such a server really behaves) and
one with a real admin key, where schemathesis also checks that every
secured operation refuses a request without a key. Each pass runs the
schema's examples, the coverage phase (boundaries and every kind of
invalid input) and generated cases; all of schemathesis's checks apply:
no 5xx, status codes, content types, headers and bodies as documented,
invalid input rejected, valid input accepted.

The document is built at import (schemathesis parametrizes at collection;
its lazy `schemathesis.pytest.from_fixture` breaks on pytest >= 9.2, which
dropped `Node._nodeid`), and each case is sent to a module-scoped app;
`test_the_fuzzed_document_is_the_served_one` proves the document is what the
app serves. The apps are seeded so that the document's example decision id
exists: reads, appeals and reviews reach their 200 and 201 answers too.
PANGOLIN_FUZZ_SEED changes the generated cases (fixed by default, so a
failure reproduces).
"""

from __future__ import annotations

import copy
import os
import secrets
from collections import Counter

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from app import create_app
from checker import pipeline
from checker.bundle import load_bundle
from checker.store import VerdictStore
from tests.conftest import POLICIES
from web import auth
from web.openapi import EXAMPLE_ID, document
from web.state import close_stores, engine, store

pytestmark = pytest.mark.slow

MIN_CASES = 500
KEY = f"pgk_fuzz_{secrets.token_urlsafe(24)}"
FUZZ_SEED = int(os.environ.get("PANGOLIN_FUZZ_SEED", "20261128"))
CASES: Counter[str] = Counter()
OPERATIONS: set[str] = set()

DOC = document(load_bundle(POLICIES))


def _without_security(doc: dict) -> dict:
    open_doc = copy.deepcopy(doc)
    for item in open_doc["paths"].values():
        for op in item.values():
            op["security"] = []
            op["responses"].pop("401", None)
            op["responses"].pop("403", None)
    return open_doc


def _config(**extra) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {"seed": FUZZ_SEED, "generation": {"max-examples": 80, "database": "none"}, **extra}
    )


open_schema = schemathesis.openapi.from_dict(_without_security(DOC), config=_config())
keyed_schema = schemathesis.openapi.from_dict(DOC, config=_config(auth={"openapi": {"bearer": {"bearer": KEY}}}))
for s in (open_schema, keyed_schema):
    OPERATIONS |= {op.ok().label for op in s.get_all_operations()}


SEED_ADS = [
    {"advertiser_id": "adv-17", "headline": "Antique carved ivory netsuke", "body": "$400, ships worldwide."},
    {"advertiser_id": "adv-17", "headline": "Grain-free dog food, 12 kg"},
    {"advertiser_id": "adv-18", "headline": "Carved ivory elephant", "body": "Estate piece, £300.", "language": "sv"},
    {"advertiser_id": "adv-18", "headline": "Tiger bone wine, 500 ml", "submission_id": "old-1"},
]


def _seed(app) -> None:
    """Verdicts for the reads to show: the document's example id (rejected, with an
    appeal), an approved one with a review, a Swedish one, and a purged one."""
    with app.app_context():
        eng = engine()
        rows = []
        for i, ad in enumerate(SEED_ADS):
            out = pipeline.run(eng.bundle, eng.checker, eng.bundle.submissions.validate(ad), eng.languages)
            if i == 0:
                out.row["decision_id"] = EXAMPLE_ID
            if i == 3:
                out.row["checked_at"] = "2020-01-01T00:00:00.000Z"
            rows.append(store().record(out.row))
        assert rows[0]["decision"] == "rejected" and rows[1]["decision"] == "approved"
        store().add_appeal(EXAMPLE_ID, "It is resin, not ivory.", "en")
        store().add_review(rows[1]["decision_id"], "seed (key_seed)", "rejected", "The label shows a tiger.")
        assert store().purge("2021-01-01") == 1


@pytest.fixture(scope="module")
def open_app(tmp_path_factory):
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    app = create_app({"TESTING": True, "DATABASE": str(db), "AUTH_DISABLED": True})
    _seed(app)
    yield app
    close_stores()


@pytest.fixture(scope="module")
def keyed_app(tmp_path_factory):
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    log = VerdictStore(str(db))  # the key exists before the first start, so no admin key is made
    log.migrate()
    log.add_key("key_fuzz", "fuzz", "admin", auth.hash_key(KEY))
    log.close()
    app = create_app({"TESTING": True, "DATABASE": str(db), "AUTH_DISABLED": False})
    _seed(app)
    yield app
    close_stores()


@pytest.fixture(scope="module", autouse=True)
def enough_cases(request):
    """After the module: at least MIN_CASES cases ran, if every operation ran in both passes."""
    yield
    ran = {label.split(" ", 1)[1] for label in CASES}
    total = sum(CASES.values())
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if CASES and reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(
                f"\nschemathesis: {total} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(CASES.items()))
            )
    if ran >= OPERATIONS:
        assert total >= MIN_CASES, f"only {total} schemathesis cases ran"


def _unknown_cursor(case, response) -> bool:
    """GET /v1/verdicts?before=<not a stored id>: 400 by design; no schema can know the stored ids."""
    if case.operation.path != "/v1/verdicts" or response.status_code != 400:
        return False
    details = response.json()["error"].get("details", [])
    return bool(details) and all(d["field"] == "query.before" for d in details)


def _run(case, app, label: str) -> None:
    CASES[f"{label} {case.operation.label}"] += 1
    # Checks that send follow-up requests (without the key, with another method) go where the case went.
    case.operation.app = case.operation.schema.app = app
    response = case.call()
    excluded = []
    if _unknown_cursor(case, response):
        excluded.append(schemathesis.checks.positive_data_acceptance)
    case.validate_response(response, excluded_checks=excluded)
    assert response.status_code < 500, response.text


@open_schema.parametrize()
def test_auth_disabled(case, open_app):
    _run(case, open_app, "auth-disabled")


@keyed_schema.parametrize()
def test_with_a_key(case, keyed_app):
    _run(case, keyed_app, "bearer")


def test_the_fuzzed_document_is_the_served_one(client):
    served = client.get("/openapi.json").get_json()
    assert {k: v for k, v in served.items() if k != "info"} == {k: v for k, v in DOC.items() if k != "info"}
