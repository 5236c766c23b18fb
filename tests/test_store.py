"""The verdict log: chained, append-only, purgeable without breaking the chain."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import threading

import pytest

from checker import store as store_module
from checker.store import AppealRefused, StoreUnavailable, VerdictStore, appeal_answered, new_decision_id


@pytest.fixture
def fresh_store(tmp_path):
    s = VerdictStore(str(tmp_path / "log.db"))
    s.migrate()
    yield s
    s.close()


def _row(i: int, decision: str = "rejected") -> dict:
    return {
        "decision_id": new_decision_id(),
        "advertiser_id": f"adv-{i % 2}",
        "submission_id": None,
        "submission_json": f'{{"advertiser_id":"adv-{i % 2}","body":"ad {i}"}}',
        "decision": decision,
        "reasons_json": f'[{{"rule":"r{i}","evidence":[{{"field":"body","text":"ad"}}]}}]',
        "shadow_json": "[]",
        "trace_json": "{}",
        "policy_version": "sha256:test",
        "language": "en",
        "checked_at": f"2026-01-{i + 1:02d}T00:00:00.000Z",
        "duration_ms": 0.5,
    }


def _fill(store, n=5):
    return [store.record(_row(i)) for i in range(n)]


def test_chain_verifies(fresh_store):
    _fill(fresh_store)
    report = fresh_store.verify()
    assert report.ok and report.rows == 5


def test_decision_ids_are_unique_and_time_ordered():
    ids = [new_decision_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(i.startswith("vd_") and len(i) == 29 for i in ids)


def test_updates_and_deletes_are_refused(fresh_store):
    rows = _fill(fresh_store, 2)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        fresh_store.db.execute("UPDATE verdicts SET decision = 'approved' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        fresh_store.db.execute("DELETE FROM verdicts WHERE seq = 2")
    fresh_store.add_review(rows[0]["decision_id"], "rev", "approved", "fine")
    fresh_store.add_appeal(rows[0]["decision_id"], "It is resin.", "en")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        fresh_store.db.execute("UPDATE reviews SET decision = 'rejected'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        fresh_store.db.execute("DELETE FROM appeals")


def _tamper(store, sql):
    store.db.execute("DROP TRIGGER verdicts_no_update")
    store.db.execute("DROP TRIGGER verdicts_no_delete")
    store.db.execute(sql)


def test_altered_row_is_found(fresh_store):
    _fill(fresh_store)
    _tamper(fresh_store, "UPDATE verdicts SET decision = 'approved' WHERE seq = 3")
    r = fresh_store.verify()
    assert not r.ok and r.seq == 3 and "altered" in r.problem


def test_altered_submission_text_is_found(fresh_store):
    _fill(fresh_store)
    _tamper(fresh_store, "UPDATE verdicts SET submission_json = '{}' WHERE seq = 2")
    r = fresh_store.verify()
    assert not r.ok and r.seq == 2 and "submission" in r.problem


def test_deleted_row_is_found(fresh_store):
    _fill(fresh_store)
    _tamper(fresh_store, "DELETE FROM verdicts WHERE seq = 3")
    r = fresh_store.verify()
    assert not r.ok and r.seq == 4 and "missing" in r.problem


def test_inserted_row_is_found(fresh_store):
    rows = _fill(fresh_store, 3)
    forged = dict(rows[1], seq=99, decision_id="vd_FORGED", prev_hash="f" * 64)
    cols = ", ".join(forged)
    fresh_store.db.execute(
        f"INSERT INTO verdicts ({cols}) VALUES ({', '.join('?' * len(forged))})", list(forged.values())
    )
    r = fresh_store.verify()
    assert not r.ok and r.decision_id == "vd_FORGED"


def test_purge_drops_text_and_keeps_a_valid_chain(fresh_store):
    _fill(fresh_store, 4)
    assert fresh_store.purge("2026-01-03") == 2
    rows = fresh_store.list(limit=10)
    purged = [r for r in rows if r["purged_at"]]
    assert len(purged) == 2
    assert all(r["submission_json"] is None and '"text"' not in r["reasons_json"] for r in purged)
    assert all(r["decision"] == "rejected" for r in purged)
    assert fresh_store.verify().ok


def test_listing_filters_and_cursor(fresh_store):
    rows = _fill(fresh_store, 5)
    newest = fresh_store.list(limit=2)
    assert [r["seq"] for r in newest] == [5, 4]
    older = fresh_store.list(before_seq=4, limit=10)
    assert [r["seq"] for r in older] == [3, 2, 1]
    assert {r["advertiser_id"] for r in fresh_store.list(advertiser_id="adv-0")} == {"adv-0"}
    assert fresh_store.seq_of(rows[2]["decision_id"]) == 3


def test_purge_keeps_no_words_of_the_ad(fresh_store):
    row = _row(0)
    row["reasons_json"] = (
        '[{"policy":"p","policy_title":"Animals","rule":"r","decision":"rejected","title":"Ivory","language":"en",'
        '"message":"No ivory (policy “Animals”). Found in the headline: “IVORIES”.",'
        '"advice":"Remove it. If “ivory” is the colour, say “cream”.","help_url":"/policies/p",'
        '"evidence":[{"field":"headline","text":"IVORIES","start":0,"end":7,"disclosed":true}]}]'
    )
    row["trace_json"] = '{"evidence":[{"policy":"p","rule":"r","evidence":[{"field":"headline","term":"ivory"}]}]}'
    row["shadow_json"] = '[{"policy":"p","rule":"s","decision":"review","evidence":[{"field":"body","text":"tusk"}]}]'
    fresh_store.record(row)
    fresh_store.purge("2099-01-01")
    (purged,) = fresh_store.list(limit=1)
    assert "IVORIES" not in purged["reasons_json"] and "tusk" not in purged["shadow_json"]
    (reason,) = json.loads(purged["reasons_json"])
    assert reason["message"] == "No ivory (policy “Animals”). Found in the headline."
    assert reason["advice"] == "Remove it."  # the tip quotes the word the ad used
    assert reason["evidence"] == [{"field": "headline"}] and reason["help_url"] == "/policies/p"
    assert json.loads(purged["shadow_json"]) == [
        {"policy": "p", "rule": "s", "decision": "review", "evidence": [{"field": "body"}]}
    ]
    assert fresh_store.verify().ok


def test_purged_reasons_cannot_be_rewritten(fresh_store):
    _fill(fresh_store, 2)
    fresh_store.purge("2099-01-01")
    _tamper(fresh_store, """UPDATE verdicts SET reasons_json = '[{"rule":"other"}]' WHERE seq = 1""")
    r = fresh_store.verify()
    assert not r.ok and r.seq == 1 and "purged reasons" in r.problem


def test_altered_review_is_found(fresh_store):
    rows = _fill(fresh_store, 1)
    fresh_store.add_review(rows[0]["decision_id"], "rev", "approved", "looks fine")
    fresh_store.add_review(rows[0]["decision_id"], "rev", "rejected", "second look")
    fresh_store.db.execute("DROP TRIGGER reviews_append_only_update")
    fresh_store.db.execute("UPDATE reviews SET decision = 'approved' WHERE id = 2")
    r = fresh_store.verify()
    assert not r.ok and "reviews: id 2" in r.problem


def test_altered_purge_form_is_found_before_the_purge(fresh_store):
    _fill(fresh_store, 2)
    _tamper(fresh_store, """UPDATE verdicts SET redacted_json = '[{"rule":"other"}]' WHERE seq = 2""")
    r = fresh_store.verify()
    assert not r.ok and r.seq == 2 and "what a purge keeps" in r.problem


def test_two_connections_appealing_at_once_store_one_appeal(fresh_store):
    (row,) = _fill(fresh_store, 1)
    ready = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []

    def appeal() -> None:
        s = VerdictStore(fresh_store.path)  # a connection of its own, as each worker has
        try:
            ready.wait()
            s.add_appeal_if_open(row["decision_id"], "It is resin.", "en", ("rejected", "review"))
            outcomes.append("stored")
        except AppealRefused as e:
            outcomes.append(e.why)
        finally:
            s.close()

    threads = [threading.Thread(target=appeal) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["open", "stored"]
    assert len(fresh_store.appeals(row["decision_id"])) == 1


def test_a_review_answers_the_appeals_before_it_even_in_the_same_millisecond(fresh_store, monkeypatch):
    monkeypatch.setattr(store_module, "now_iso", lambda: "2026-11-28T12:00:00.000Z")
    (row,) = _fill(fresh_store, 1)
    appealable = ("rejected", "review")
    fresh_store.add_appeal_if_open(row["decision_id"], "first", "en", appealable)
    review = fresh_store.add_review(row["decision_id"], "rev", "rejected", "real")
    assert review["answers_appeal"] == 1
    second = fresh_store.add_appeal_if_open(row["decision_id"], "second", "en", appealable)
    assert not appeal_answered(second, review)  # same created_at; the id says the appeal came after
    with pytest.raises(AppealRefused, match="open"):
        fresh_store.add_appeal_if_open(row["decision_id"], "third", "en", appealable)
    fresh_store.add_review(row["decision_id"], "rev", "approved", "fine after all")
    with pytest.raises(AppealRefused, match="approved"):
        fresh_store.add_appeal_if_open(row["decision_id"], "fourth", "en", appealable)
    assert fresh_store.verify().ok


def _migrate_at_the_barrier(path: str, barrier, results) -> None:
    barrier.wait()
    try:
        VerdictStore(path).migrate()
        results.put("ok")
    except StoreUnavailable as e:
        results.put(str(e))


def test_workers_starting_together_on_a_fresh_log_all_prepare_it(tmp_path):
    # Before the fix, most rounds had a worker refused with "database is locked".
    ctx = multiprocessing.get_context("fork")
    for round_ in range(5):
        path = str(tmp_path / f"fresh-{round_}.db")
        barrier, results = ctx.Barrier(8), ctx.Queue()
        procs = [ctx.Process(target=_migrate_at_the_barrier, args=(path, barrier, results)) for _ in range(8)]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=30) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        assert outcomes == ["ok"] * 8
        store = VerdictStore(path)
        applied = [r["name"] for r in store.db["_sqlite_migrations"].rows]
        assert len(applied) == len(set(applied)) and "verdicts" in store.db.table_names()
        store.close()
