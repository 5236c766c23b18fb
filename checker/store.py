"""The verdict log: every verdict, stored before it is answered.

SQLite through sqlite-utils, tables created by migrations, WAL on. Each
verdict row carries a hash over its content and the previous row's hash, so
an altered, inserted or deleted row shows up in `verify()`. Verdicts, reviews
and appeals are append-only (triggers refuse UPDATE and DELETE); the only
change a verdict row accepts is `purge`, which drops the advertiser's text
and keeps the chain valid because the chain covers digests, not text.

One VerdictStore is one connection: use one per thread, never share it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlite_utils import Database, Migrations

from .errors import StoreUnavailable
from .explain import purged_reason

GENESIS = "0" * 64
BUSY_TIMEOUT_MS = 5000

migrations = Migrations("pangolin")


@migrations()
def m001_verdicts(db: Database) -> None:
    db["verdicts"].create(
        {
            "seq": int,
            "decision_id": str,
            "advertiser_id": str,
            "submission_id": str,
            "submission_json": str,
            "submission_sha256": str,
            "decision": str,
            "reasons_json": str,
            "reasons_sha256": str,
            "shadow_json": str,
            "trace_json": str,
            "policy_version": str,
            "language": str,
            "checked_at": str,
            "duration_ms": float,
            "prev_hash": str,
            "row_hash": str,
            "purged_at": str,
        },
        pk="seq",
        not_null={
            "decision_id",
            "advertiser_id",
            "submission_sha256",
            "decision",
            "reasons_json",
            "reasons_sha256",
            "policy_version",
            "checked_at",
            "prev_hash",
            "row_hash",
        },
    )
    db["verdicts"].create_index(["decision_id"], unique=True)
    for col in ("advertiser_id", "decision", "checked_at"):
        db["verdicts"].create_index([col])
    db.execute(
        """CREATE TRIGGER verdicts_no_delete BEFORE DELETE ON verdicts
           BEGIN SELECT RAISE(ABORT, 'verdicts are append-only'); END"""
    )
    db.execute(
        """CREATE TRIGGER verdicts_no_update BEFORE UPDATE OF
             seq, decision_id, advertiser_id, submission_id, submission_sha256, decision,
             reasons_sha256, policy_version, language, checked_at, duration_ms, prev_hash, row_hash
           ON verdicts
           BEGIN SELECT RAISE(ABORT, 'verdicts are append-only'); END"""
    )


@migrations()
def m002_reviews_and_appeals(db: Database) -> None:
    db["reviews"].create(
        {
            "id": int,
            "decision_id": str,
            "reviewer": str,
            "decision": str,
            "note": str,
            "created_at": str,
            "prev_hash": str,
            "row_hash": str,
        },
        pk="id",
        not_null={"decision_id", "reviewer", "decision", "created_at", "prev_hash", "row_hash"},
    )
    db["reviews"].create_index(["decision_id"])
    db["appeals"].create(
        {
            "id": int,
            "decision_id": str,
            "reason": str,
            "language": str,
            "created_at": str,
            "prev_hash": str,
            "row_hash": str,
        },
        pk="id",
        not_null={"decision_id", "reason", "created_at", "prev_hash", "row_hash"},
    )
    db["appeals"].create_index(["decision_id"])
    for table in ("reviews", "appeals"):
        db.execute(
            f"""CREATE TRIGGER {table}_append_only_update BEFORE UPDATE ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END"""
        )
        db.execute(
            f"""CREATE TRIGGER {table}_append_only_delete BEFORE DELETE ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END"""
        )


@migrations()
def m003_api_keys(db: Database) -> None:
    db["api_keys"].create(
        {
            "key_id": str,
            "name": str,
            "role": str,
            "key_hash": str,
            "created_at": str,
            "revoked_at": str,
        },
        pk="key_id",
        not_null={"name", "role", "key_hash", "created_at"},
    )
    db["api_keys"].create_index(["key_hash"], unique=True)


@migrations()
def m004_redacted_digest(db: Database) -> None:
    """The digest of what a purge keeps, chained with the row (see redact_reasons)."""
    db["verdicts"].add_column("redacted_sha256", str)
    db.execute("DROP TRIGGER verdicts_no_update")
    db.execute(
        """CREATE TRIGGER verdicts_no_update BEFORE UPDATE OF
             seq, decision_id, advertiser_id, submission_id, submission_sha256, decision, reasons_sha256,
             redacted_sha256, policy_version, language, checked_at, duration_ms, prev_hash, row_hash
           ON verdicts
           BEGIN SELECT RAISE(ABORT, 'verdicts are append-only'); END"""
    )


@migrations()
def m005_reviews_answer_appeals(db: Database) -> None:
    """Each review names the newest appeal it answers (0: none).

    Comparing created_at cannot order an appeal and a review made in the same
    millisecond; appeal ids can.
    """
    db["reviews"].add_column("answers_appeal", int)


@migrations()
def m006_redacted_reasons(db: Database) -> None:
    """What a purge will keep of the reasons, written with the verdict.

    Its digest (redacted_sha256) is chained, so a purge copies it instead of
    rebuilding it with code that may have changed since.
    """
    db["verdicts"].add_column("redacted_json", str)
    db.execute("DROP TRIGGER verdicts_no_update")
    db.execute(
        """CREATE TRIGGER verdicts_no_update BEFORE UPDATE OF
             seq, decision_id, advertiser_id, submission_id, submission_sha256, decision, reasons_sha256,
             redacted_sha256, redacted_json, policy_version, language, checked_at, duration_ms, prev_hash, row_hash
           ON verdicts
           BEGIN SELECT RAISE(ABORT, 'verdicts are append-only'); END"""
    )


# Columns added to reviews and appeals after rows were hashed: absent from the
# hash of the rows written before (NULL there), present in those written since.
_ADDED_LATER = frozenset({"answers_appeal"})


def now_iso() -> str:
    t = datetime.now(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_decision_id() -> str:
    """Time-ordered and unguessable: 48 bits of milliseconds, 80 random bits."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "vd_" + "".join(reversed(chars))


def canonical(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_CHAINED = (
    "seq",
    "decision_id",
    "advertiser_id",
    "submission_id",
    "submission_sha256",
    "decision",
    "reasons_sha256",
    "policy_version",
    "language",
    "checked_at",
)


def row_hash(prev_hash: str, row: dict) -> str:
    values = [row.get(k) for k in _CHAINED]
    if row.get("redacted_sha256") is not None:
        values.append(row["redacted_sha256"])
    return sha256(prev_hash + "\n" + canonical(values))


_KEPT_BY_PURGE_V1 = ("policy", "policy_title", "rule", "decision", "title", "language", "help_url")


def redact_reasons(reasons: list[dict], trace: dict | None = None) -> list[dict]:
    """What a purge keeps of the reasons: the rules' own words and the fields, no word of the ad.

    Written with the verdict (redacted_json) and chained by its digest, so a
    purged row still proves which rules decided it and still explains them.
    `trace` gives the terms each rule matched, which the advice's tips quote.
    """
    terms: dict[str, set[str]] = {}
    for item in (trace or {}).get("evidence", []):
        terms.setdefault(item["rule"], set()).update(e["term"] for e in item["evidence"] if e.get("term"))
    return [
        purged_reason(r, {e["text"] for e in r.get("evidence", []) if "text" in e} | terms.get(r.get("rule"), set()))
        for r in reasons
    ]


def redact_reasons_v1(reasons: list[dict]) -> list[dict]:
    """What a purge kept before m006 (no message, no advice): the digest of rows written then is of this."""
    return [
        {
            **{k: r[k] for k in _KEPT_BY_PURGE_V1 if k in r},
            "evidence": [{"field": e["field"]} for e in r.get("evidence", [])],
        }
        for r in reasons
    ]


def redact_shadow(shadow: list[dict]) -> list[dict]:
    """What a purge keeps of the shadow rules that fired: which, and in which fields."""
    return [
        {
            **{k: s[k] for k in ("policy", "rule", "decision") if k in s},
            "evidence": [{"field": e["field"]} for e in s.get("evidence", [])],
        }
        for s in shadow
    ]


def appeal_answered(appeal: dict, review: dict | None) -> bool:
    """Did `review` (a verdict's latest) come after `appeal` (its latest)?"""
    if review is None:
        return False
    if review.get("answers_appeal") is not None:
        return review["answers_appeal"] >= appeal["id"]
    return review["created_at"] >= appeal["created_at"]  # a review written before m005


class AppealRefused(Exception):
    """Nothing to appeal (`why` "approved") or an appeal already waits (`why` "open")."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    rows: int
    problem: str | None = None
    seq: int | None = None
    decision_id: str | None = None


def _while_locked(step: Callable[[], object]) -> None:
    """Run a step that SQLite refuses at once while another connection holds
    the file, until it goes through or the busy timeout has passed."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01 + secrets.randbelow(20) / 1000)


@contextmanager
def _immediate(conn: sqlite3.Connection, retry_begin: bool = False) -> Iterator[None]:
    """One immediate transaction: writers queue for the lock instead of
    failing half-way; anything raised inside rolls it back."""
    if retry_begin:
        _while_locked(lambda: conn.execute("BEGIN IMMEDIATE"))
    else:
        conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class VerdictStore:
    """One connection to the verdict log."""

    def __init__(self, path: str):
        self.path = path
        try:
            if path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=True)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except (sqlite3.Error, OSError) as e:
            raise StoreUnavailable(f"cannot open the verdict log at {path}: {e}") from e
        self.db = Database(conn)

    def close(self) -> None:
        self.db.conn.close()

    # -- schema ---------------------------------------------------------------
    def migrate(self) -> None:
        """Create or upgrade the tables; switch on WAL. Run once at start-up.

        Several workers start at once on a fresh log. Switching to WAL needs
        the file to itself, so it is retried while another worker holds it;
        the migrations run in one immediate transaction, so one worker
        applies them while the others wait (busy timeout) and then find
        nothing pending. (A deferred transaction that reads, then writes, is
        refused at once with "database is locked" instead of waiting.)
        """
        conn = self.db.conn
        try:
            if self.path != ":memory:":
                _while_locked(self.db.enable_wal)
            with _immediate(conn, retry_begin=True):
                migrations.apply(self.db)
        except sqlite3.Error as e:
            raise StoreUnavailable(f"cannot prepare the verdict log: {e}") from e

    # -- verdicts ---------------------------------------------------------------
    def record(self, row: dict) -> dict:
        """Append one verdict. `row` holds the verdict's fields (see m001).

        The write and the chain link happen in one immediate transaction, so
        concurrent workers queue up instead of forking the chain.
        """
        row = dict(row)
        row["submission_sha256"] = sha256(row["submission_json"])
        row["reasons_sha256"] = sha256(row["reasons_json"])
        reasons = json.loads(row["reasons_json"])
        trace = json.loads(row["trace_json"]) if reasons and row.get("trace_json") else None
        row["redacted_json"] = canonical(redact_reasons(reasons, trace))
        row["redacted_sha256"] = sha256(row["redacted_json"])
        conn = self.db.conn
        try:
            with _immediate(conn):
                last = conn.execute("SELECT seq, row_hash FROM verdicts ORDER BY seq DESC LIMIT 1").fetchone()
                row["seq"] = (last[0] + 1) if last else 1
                row["prev_hash"] = last[1] if last else GENESIS
                row["row_hash"] = row_hash(row["prev_hash"], row)
                cols = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                conn.execute(f"INSERT INTO verdicts ({cols}) VALUES ({marks})", list(row.values()))
        except sqlite3.Error as e:
            raise StoreUnavailable(f"could not store the verdict: {e}") from e
        return row

    def get(self, decision_id: str) -> dict | None:
        rows = self.query("SELECT * FROM verdicts WHERE decision_id = ?", [decision_id])
        return rows[0] if rows else None

    def _one(self, sql: str, args: list | tuple = ()) -> tuple | None:
        try:
            return self.db.execute(sql, args).fetchone()
        except sqlite3.Error as e:
            raise StoreUnavailable(str(e)) from e

    def query(self, sql: str, args: list | tuple | dict = ()) -> list[dict]:
        """The rows of a read; a database error is StoreUnavailable."""
        try:
            return list(self.db.query(sql, args))
        except sqlite3.Error as e:
            raise StoreUnavailable(str(e)) from e

    def seq_of(self, decision_id: str) -> int | None:
        row = self._one("SELECT seq FROM verdicts WHERE decision_id = ?", [decision_id])
        return row[0] if row else None

    def list(
        self,
        *,
        advertiser_id: str | None = None,
        decision: str | None = None,
        before_seq: int | None = None,
        since: str | None = None,
        limit: int = 50,
        columns: str = "*",
    ) -> list[dict]:
        """Newest first; `before_seq` is the cursor."""
        where, args = [], []
        if advertiser_id is not None:
            where.append("advertiser_id = ?")
            args.append(advertiser_id)
        if decision is not None:
            where.append("decision = ?")
            args.append(decision)
        if before_seq is not None:
            where.append("seq < ?")
            args.append(before_seq)
        if since is not None:
            where.append("checked_at >= ?")
            args.append(since)
        sql = f"SELECT {columns} FROM verdicts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC LIMIT ?"
        args.append(limit)
        return self.query(sql, args)

    def count(self, **where) -> int:
        clauses = " AND ".join(f"{k} = ?" for k in where)
        sql = "SELECT count(*) FROM verdicts" + (f" WHERE {clauses}" if clauses else "")
        return self._one(sql, list(where.values()))[0]

    def decision_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT decision, count(*) FROM verdicts GROUP BY decision").fetchall())

    # -- reviews and appeals -----------------------------------------------------
    def add_review(self, decision_id: str, reviewer: str, decision: str, note: str) -> dict:
        """Append a review; it answers every appeal of the verdict made before it (in the same transaction)."""

        def answers(conn) -> dict:
            newest = conn.execute("SELECT max(id) FROM appeals WHERE decision_id = ?", [decision_id]).fetchone()[0]
            return {"answers_appeal": newest or 0}

        row = {"decision_id": decision_id, "reviewer": reviewer, "decision": decision, "note": note}
        return self._append("reviews", row, answers)

    def add_appeal(self, decision_id: str, reason: str, language: str | None) -> dict:
        """Append an appeal, unconditionally (see add_appeal_if_open)."""
        return self._append("appeals", {"decision_id": decision_id, "reason": reason, "language": language})

    def add_appeal_if_open(
        self, decision_id: str, reason: str, language: str | None, appealable: tuple[str, ...]
    ) -> dict:
        """Append an appeal if the decision in force is in `appealable` and no appeal waits; else AppealRefused.

        Checked and written in one immediate transaction: of two appeals at
        once, one is stored and the other refused.
        """

        def still_open(conn) -> dict:
            verdict = conn.execute("SELECT decision FROM verdicts WHERE decision_id = ?", [decision_id]).fetchone()
            review = conn.execute(
                "SELECT decision, answers_appeal, created_at FROM reviews WHERE decision_id = ? ORDER BY id DESC LIMIT 1",
                [decision_id],
            ).fetchone()
            appeal = conn.execute(
                "SELECT id, created_at FROM appeals WHERE decision_id = ? ORDER BY id DESC LIMIT 1", [decision_id]
            ).fetchone()
            effective = review[0] if review else verdict[0] if verdict else None
            if effective not in appealable:
                raise AppealRefused("approved")
            last_review = (
                dict(zip(("decision", "answers_appeal", "created_at"), review, strict=True)) if review else None
            )
            if appeal and not appeal_answered({"id": appeal[0], "created_at": appeal[1]}, last_review):
                raise AppealRefused("open")
            return {}

        row = {"decision_id": decision_id, "reason": reason, "language": language}
        return self._append("appeals", row, still_open)

    def reviews(self, decision_id: str) -> list[dict]:
        return self.query("SELECT * FROM reviews WHERE decision_id = ? ORDER BY id", [decision_id])

    def appeals(self, decision_id: str) -> list[dict]:
        return self.query("SELECT * FROM appeals WHERE decision_id = ? ORDER BY id", [decision_id])

    def _append(self, table: str, row: dict, inside: Callable[[sqlite3.Connection], dict] | None = None) -> dict:
        """Append a chained row; `inside` runs in the transaction first, may refuse (raise) or add fields."""
        row = dict(row, created_at=now_iso())
        conn = self.db.conn
        try:
            with _immediate(conn):
                if inside is not None:
                    row.update(inside(conn))
                last = conn.execute(f"SELECT id, row_hash FROM {table} ORDER BY id DESC LIMIT 1").fetchone()
                row["id"] = (last[0] + 1) if last else 1
                row["prev_hash"] = last[1] if last else GENESIS
                row["row_hash"] = sha256(row["prev_hash"] + "\n" + canonical(sorted(row.items())))
                cols = ", ".join(row)
                conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' for _ in row)})", list(row.values()))
        except sqlite3.Error as e:
            raise StoreUnavailable(f"could not store the {table[:-1]}: {e}") from e
        return row

    # -- integrity ----------------------------------------------------------------
    def verify(self) -> ChainReport:
        """Walk the chain; report the first altered, inserted or deleted row."""
        prev = GENESIS
        expected_seq = 1
        n = 0
        for row in self.db.query("SELECT * FROM verdicts ORDER BY seq"):
            n += 1
            where = {"seq": row["seq"], "decision_id": row["decision_id"]}
            if row["seq"] != expected_seq:
                return ChainReport(
                    False, n, f"row(s) missing before seq {row['seq']} (expected seq {expected_seq})", **where
                )
            if row["prev_hash"] != prev:
                return ChainReport(False, n, "does not link to the previous row (inserted or reordered)", **where)
            if row_hash(prev, row) != row["row_hash"]:
                return ChainReport(False, n, "content does not match its hash (altered)", **where)
            if row["submission_json"] is not None and sha256(row["submission_json"]) != row["submission_sha256"]:
                return ChainReport(False, n, "submission text does not match its digest (altered)", **where)
            if row.get("redacted_json") is not None and sha256(row["redacted_json"]) != row["redacted_sha256"]:
                return ChainReport(False, n, "what a purge keeps does not match its digest (altered)", **where)
            if row["purged_at"] is None and sha256(row["reasons_json"]) != row["reasons_sha256"]:
                return ChainReport(False, n, "reasons do not match their digest (altered)", **where)
            if (
                row["purged_at"] is not None
                and row.get("redacted_sha256") is not None
                and sha256(row["reasons_json"]) != row["redacted_sha256"]
            ):
                return ChainReport(False, n, "purged reasons do not match their digest (altered)", **where)
            prev = row["row_hash"]
            expected_seq += 1
        for table in ("reviews", "appeals"):
            problem = self._verify_appended(table)
            if problem:
                return ChainReport(False, n, problem)
        return ChainReport(True, n)

    def _verify_appended(self, table: str) -> str | None:
        prev = GENESIS
        expected = 1
        for row in self.db.query(f"SELECT * FROM {table} ORDER BY id"):
            stored = row.pop("row_hash")
            row = {k: v for k, v in row.items() if not (v is None and k in _ADDED_LATER)}
            if row["id"] != expected:
                return f"{table}: row(s) missing before id {row['id']}"
            if row["prev_hash"] != prev:
                return f"{table}: id {row['id']} does not link to the previous row"
            if sha256(prev + "\n" + canonical(sorted(row.items()))) != stored:
                return f"{table}: id {row['id']} does not match its hash (altered)"
            prev, expected = stored, expected + 1
        return None

    def purge(self, before: str) -> int:
        """Drop advertisers' text from verdicts checked before `before` (ISO date).

        The decision, policy version, digests and what the reasons say without
        the ad's words stay (redacted_json, written with the verdict; rows
        written before m006 keep the older, shorter form their digest is of),
        so the chain still verifies. Shadow rules keep their ids and fields.
        """
        rows = self.query(
            "SELECT seq, reasons_json, redacted_json, shadow_json FROM verdicts "
            "WHERE checked_at < ? AND purged_at IS NULL",
            [before],
        )
        stamp = now_iso()
        conn = self.db.conn
        with _immediate(conn):
            for row in rows:
                reasons = row["redacted_json"] or canonical(redact_reasons_v1(json.loads(row["reasons_json"])))
                shadow = canonical(redact_shadow(json.loads(row["shadow_json"]))) if row["shadow_json"] else None
                conn.execute(
                    "UPDATE verdicts SET submission_json = NULL, trace_json = NULL, shadow_json = ?, "
                    "reasons_json = ?, purged_at = ? WHERE seq = ?",
                    [shadow, reasons, stamp, row["seq"]],
                )
        return len(rows)

    # -- API keys -------------------------------------------------------------------
    def add_key(self, key_id: str, name: str, role: str, key_hash: str) -> None:
        self.db["api_keys"].insert(
            {
                "key_id": key_id,
                "name": name,
                "role": role,
                "key_hash": key_hash,
                "created_at": now_iso(),
                "revoked_at": None,
            }
        )

    def active_key(self, key_id: str) -> dict | None:
        """A key that is not revoked, by id, without its hash."""
        rows = self.query("SELECT key_id, name, role FROM api_keys WHERE key_id = ? AND revoked_at IS NULL", [key_id])
        return rows[0] if rows else None

    def find_key(self, key_hash: str) -> dict | None:
        rows = self.query("SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", [key_hash])
        return rows[0] if rows else None

    def api_keys(self) -> list[dict]:
        return list(
            self.db.query("SELECT key_id, name, role, created_at, revoked_at FROM api_keys ORDER BY created_at")
        )

    def revoke_key(self, key_id: str) -> bool:
        cur = self.db.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL", [now_iso(), key_id]
        )
        return cur.rowcount > 0

    def active_key_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL").fetchone()[0]
