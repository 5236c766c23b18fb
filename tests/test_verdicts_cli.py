"""`flask verdicts verify` and `flask verdicts purge`: the tamper test and retention."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from app import create_app
from tests.test_openapi import assert_conforms
from web import verdicts
from web.state import close_stores, store

IVORY_AD = {"advertiser_id": "adv-17", "headline": "Carved ivory netsuke", "body": "Signed. $400, ships worldwide."}
CLEAN_AD = {"advertiser_id": "adv-17", "headline": "Grain-free dog food", "body": "Free delivery over $50."}


@pytest.fixture
def filled(app, client):
    """Five verdicts in the log; returns their decision ids, oldest first."""
    return [client.post("/v1/check", json=ad).get_json()["decision_id"] for ad in [IVORY_AD, CLEAN_AD] * 2 + [IVORY_AD]]


def tamper(app, sql: str, args=()) -> None:
    """What someone with write access to the file could do: drop the guards, then edit."""
    with app.app_context():
        db = store().db
        db.execute("DROP TRIGGER IF EXISTS verdicts_no_update")
        db.execute("DROP TRIGGER IF EXISTS verdicts_no_delete")
        db.execute(sql, list(args))


def test_verify_an_intact_log(runner, filled):
    out = runner.invoke(args=["verdicts", "verify"])
    assert out.exit_code == 0, out.output
    assert "verdict log intact: 5 verdict(s)" in out.output
    assert re.search(r"^head: 5:[0-9a-f]{64}$", out.output, re.M)


def test_verify_an_empty_log(runner):
    out = runner.invoke(args=["verdicts", "verify"])
    assert out.exit_code == 0 and "intact: 0 verdict(s)" in out.output


def test_verify_finds_an_altered_decision(runner, app, filled):
    tamper(app, "UPDATE verdicts SET decision = 'approved' WHERE seq = 3")
    out = runner.invoke(args=["verdicts", "verify"])
    assert out.exit_code == 1
    assert f"first problem: seq 3 ({filled[2]}): content does not match its hash (altered)" in out.output


def test_verify_finds_altered_submission_text(runner, app, filled):
    tamper(app, "UPDATE verdicts SET submission_json = ? WHERE seq = 1", [json.dumps(CLEAN_AD)])
    out = runner.invoke(args=["verdicts", "verify"])
    assert out.exit_code == 1 and "seq 1" in out.output and "submission text" in out.output


def test_verify_finds_altered_reasons(runner, app, filled):
    tamper(app, "UPDATE verdicts SET reasons_json = '[]' WHERE seq = 5")
    out = runner.invoke(args=["verdicts", "verify"])
    assert out.exit_code == 1 and "seq 5" in out.output and "reasons" in out.output


def test_verify_finds_a_deleted_row(runner, app, filled):
    tamper(app, "DELETE FROM verdicts WHERE seq = 2")
    out = runner.invoke(args=["verdicts", "verify"])
    assert out.exit_code == 1
    assert f"seq 3 ({filled[2]}): row(s) missing before seq 3" in out.output


def test_verify_finds_an_inserted_row(runner, app, filled):
    with app.app_context():
        row = dict(store().get(filled[1]))
    row.update(seq=99, decision_id="vd_FORGED", decision="approved")
    cols = ", ".join(row)
    tamper(app, f"INSERT INTO verdicts ({cols}) VALUES ({', '.join('?' * len(row))})", row.values())
    out = runner.invoke(args=["verdicts", "verify"])
    assert out.exit_code == 1 and "vd_FORGED" in out.output


def test_verify_with_a_recorded_head_finds_rows_cut_off_the_end(runner, app, filled):
    head = re.search(r"^head: (\S+)$", runner.invoke(args=["verdicts", "verify"]).output, re.M).group(1)
    assert runner.invoke(args=["verdicts", "verify", "--head", head]).exit_code == 0
    tamper(app, "DELETE FROM verdicts WHERE seq = 5")
    # The shorter chain is valid on its own ...
    assert runner.invoke(args=["verdicts", "verify"]).exit_code == 0
    # ... but the recorded head is gone.
    out = runner.invoke(args=["verdicts", "verify", "--head", head])
    assert out.exit_code == 1 and "recorded head seq 5 is missing" in out.output


def test_verify_with_a_head_whose_hash_differs(runner, filled):
    out = runner.invoke(args=["verdicts", "verify", "--head", f"2:{'0' * 64}"])
    assert out.exit_code == 1 and "seq 2" in out.output and "different hash" in out.output


def test_verify_refuses_a_malformed_head(runner):
    out = runner.invoke(args=["verdicts", "verify", "--head", "five"])
    assert out.exit_code == 2 and "--head" in out.output


# -- purge ---------------------------------------------------------------------------------------
def _age(app, checked_at: str, seqs: list[int]) -> None:
    """Make verdicts old. checked_at is chained, so the rows are rehashed as if written then."""
    from checker.store import GENESIS, row_hash

    with app.app_context():
        db = store().db
        db.execute("DROP TRIGGER IF EXISTS verdicts_no_update")
        prev = GENESIS
        for row in db.query("SELECT * FROM verdicts ORDER BY seq"):
            row = dict(row)
            if row["seq"] in seqs:
                row["checked_at"] = checked_at
            row["prev_hash"] = prev
            row["row_hash"] = row_hash(prev, row)
            db.execute(
                "UPDATE verdicts SET checked_at = ?, prev_hash = ?, row_hash = ? WHERE seq = ?",
                [row["checked_at"], row["prev_hash"], row["row_hash"], row["seq"]],
            )
            prev = row["row_hash"]


def test_purge_removes_old_text_and_keeps_verdicts_and_chain(runner, app, client, filled):
    _age(app, "2025-06-01T12:00:00.000Z", [1, 2])
    assert runner.invoke(args=["verdicts", "verify"]).exit_code == 0
    out = runner.invoke(args=["verdicts", "purge", "--before", "2026-01-01"])
    assert out.exit_code == 0, out.output
    assert "purged the text of 2 verdict(s) checked before 2026-01-01" in out.output
    assert "verdict log intact: 5 verdict(s)" in out.output
    with app.app_context():
        old = store().get(filled[0])
        kept = store().get(filled[2])
    assert old["purged_at"] and old["submission_json"] is None and old["trace_json"] is None
    assert all(e == {"field": "headline"} for r in json.loads(old["reasons_json"]) for e in r["evidence"])
    assert old["decision"] == "rejected" and old["policy_version"] and old["submission_sha256"]
    assert kept["purged_at"] is None and json.loads(kept["submission_json"]) == IVORY_AD
    # The API still answers the purged verdict: decision, rules and fields, no text.
    v = client.get(f"/v1/verdicts/{filled[0]}").get_json()
    assert v["decision"] == "rejected" and v["reasons"][0]["evidence"] == [{"field": "headline"}]
    # A second purge finds nothing more to do.
    again = runner.invoke(args=["verdicts", "purge", "--before", "2026-01-01"])
    assert again.exit_code == 0 and "of 0 verdict(s)" in again.output


def test_purge_before_a_time(runner, app, filled):
    _age(app, "2025-06-01T12:00:00.000Z", [1])
    _age(app, "2025-06-01T13:00:00.000Z", [2])
    out = runner.invoke(args=["verdicts", "purge", "--before", "2025-06-01T12:30:00"])
    assert out.exit_code == 0 and "of 1 verdict(s)" in out.output


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "01/02/2026", ""])
def test_purge_refuses_a_bad_date_naming_the_option(runner, filled, value):
    out = runner.invoke(args=["verdicts", "purge", "--before", value])
    assert out.exit_code == 2
    assert "Invalid value for '--before'" in out.output and "%Y-%m-%d" in out.output


def test_purge_refuses_a_future_date(runner, app, filled):
    out = runner.invoke(args=["verdicts", "purge", "--before", "2999-01-01"])
    assert out.exit_code == 2 and "'--before'" in out.output and "future" in out.output
    with app.app_context():
        assert store().count() == 5 and all(r["purged_at"] is None for r in store().list())


def test_purge_needs_a_date(runner):
    out = runner.invoke(args=["verdicts", "purge"])
    assert out.exit_code == 2 and "--before" in out.output


def test_commands_have_help(runner):
    for args in (["verdicts"], ["verdicts", "verify"], ["verdicts", "purge"]):
        out = runner.invoke(args=[*args, "--help"])
        assert out.exit_code == 0 and "Usage:" in out.output


def test_purged_text_is_gone_from_the_files(runner, app, client):
    """Not just from the rows: from the database file and its WAL too."""
    marker = "ZQXJ-ONLY-IN-THIS-AD"
    for _ in range(10):
        r = client.post(
            "/v1/check", json={"advertiser_id": "a", "headline": f"Carved ivory {marker}", "body": marker * 200}
        )
        assert r.status_code == 200
    with app.app_context():
        store().db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the text is in the database file itself
    _age(app, "2025-06-01T12:00:00.000Z", list(range(1, 11)))

    def traces() -> int:
        from pathlib import Path

        db = Path(app.config["DATABASE"])
        return sum(p.read_bytes().count(marker.encode()) for p in db.parent.glob(db.name + "*"))

    assert traces() > 0
    out = runner.invoke(args=["verdicts", "purge", "--before", "2026-01-01"])
    assert out.exit_code == 0 and "of 10 verdict(s)" in out.output
    assert traces() == 0


# -- logs written by earlier versions ------------------------------------------------------------
LEGACY_LOG = Path(__file__).parent / "data" / "verdict-log-before-m005.sql"


@pytest.fixture
def legacy_app(tmp_path):
    """An app on a log the code before m005 wrote (tests/data/verdict-log-before-m005.sql): four
    verdicts, two of them purged then (reasons without message and advice), appeals and a review."""
    db = tmp_path / "legacy.db"
    conn = sqlite3.connect(db)
    conn.executescript(LEGACY_LOG.read_text(encoding="utf-8"))
    conn.close()
    app = create_app({"TESTING": True, "DATABASE": str(db), "AUTH_DISABLED": True})
    yield app
    close_stores()


def test_a_log_from_before_the_purge_kept_messages_verifies_purges_and_answers_in_contract(legacy_app):
    runner, client = legacy_app.test_cli_runner(), legacy_app.test_client()
    doc = client.get("/openapi.json").get_json()
    assert runner.invoke(args=["verdicts", "verify"]).exit_code == 0  # migrated, and the old rows still verify
    out = runner.invoke(args=["verdicts", "purge", "--before", "2026-06-01"])
    assert out.exit_code == 0 and "of 2 verdict(s)" in out.output and "verdict log intact: 4" in out.output, out.output
    new = client.post("/v1/check", json=IVORY_AD).get_json()  # and one written now, purged at once
    with legacy_app.app_context():
        store().purge("9999-01-01")
    out = runner.invoke(args=["verdicts", "verify"])
    assert out.exit_code == 0 and "verdict log intact: 5" in out.output, out.output
    for decision_id in ("vd_01M8H8V7E5B232R4YXF0JFCQ50", "vd_01M8H8V7E5B232R4YXF0JFCQ52", new["decision_id"]):
        r = client.get(f"/v1/verdicts/{decision_id}")
        assert_conforms(doc, "/v1/verdicts/{decision_id}", "get", r)
        (reason,) = [x for x in r.get_json()["reasons"] if x["rule"] == "ivory-any-animal"]
        assert reason["message"].startswith(("Ads may not sell", "Annonser får inte")), reason
        assert reason["advice"] and "“ivory”" not in reason["advice"] and "”ivory”" not in reason["advice"]
    assert_conforms(doc, "/v1/verdicts", "get", client.get("/v1/verdicts"))


def test_a_review_written_before_m005_still_answers_the_appeal_before_it(legacy_app):
    client = legacy_app.test_client()
    first = client.get("/v1/verdicts/vd_01M8H8V7E5B232R4YXF0JFCQ50").get_json()
    assert first["appeals"][0]["created_at"] == first["reviews"][0]["created_at"]  # one millisecond, as written
    with legacy_app.app_context():
        queued = [q["decision_id"] for q in verdicts.queue()]
    assert queued == ["vd_01M8H8V7E5B232R4YXF0JFCQ52"]  # the one appeal nobody answered
