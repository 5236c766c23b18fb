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
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlite_utils import Database, Migrations

from .errors import StoreUnavailable

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
    return sha256(prev_hash + "\n" + canonical([row.get(k) for k in _CHAINED]))


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    rows: int
    problem: str | None = None
    seq: int | None = None
    decision_id: str | None = None


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
        """Create or upgrade the tables; switch on WAL. Run once at start-up."""
        try:
            if self.path != ":memory:":
                self.db.enable_wal()
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
        conn = self.db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                last = conn.execute("SELECT seq, row_hash FROM verdicts ORDER BY seq DESC LIMIT 1").fetchone()
                row["seq"] = (last[0] + 1) if last else 1
                row["prev_hash"] = last[1] if last else GENESIS
                row["row_hash"] = row_hash(row["prev_hash"], row)
                cols = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                conn.execute(f"INSERT INTO verdicts ({cols}) VALUES ({marks})", list(row.values()))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            raise StoreUnavailable(f"could not store the verdict: {e}") from e
        return row

    def get(self, decision_id: str) -> dict | None:
        try:
            rows = list(self.db.query("SELECT * FROM verdicts WHERE decision_id = ?", [decision_id]))
        except sqlite3.Error as e:
            raise StoreUnavailable(str(e)) from e
        return rows[0] if rows else None

    def seq_of(self, decision_id: str) -> int | None:
        row = self.db.execute("SELECT seq FROM verdicts WHERE decision_id = ?", [decision_id]).fetchone()
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
        try:
            return list(self.db.query(sql, args))
        except sqlite3.Error as e:
            raise StoreUnavailable(str(e)) from e

    def count(self, **where) -> int:
        clauses = " AND ".join(f"{k} = ?" for k in where)
        sql = "SELECT count(*) FROM verdicts" + (f" WHERE {clauses}" if clauses else "")
        return self.db.execute(sql, list(where.values())).fetchone()[0]

    def decision_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT decision, count(*) FROM verdicts GROUP BY decision").fetchall())

    # -- reviews and appeals -----------------------------------------------------
    def add_review(self, decision_id: str, reviewer: str, decision: str, note: str) -> dict:
        return self._append(
            "reviews", {"decision_id": decision_id, "reviewer": reviewer, "decision": decision, "note": note}
        )

    def add_appeal(self, decision_id: str, reason: str, language: str | None) -> dict:
        return self._append("appeals", {"decision_id": decision_id, "reason": reason, "language": language})

    def reviews(self, decision_id: str) -> list[dict]:
        return list(self.db.query("SELECT * FROM reviews WHERE decision_id = ? ORDER BY id", [decision_id]))

    def appeals(self, decision_id: str) -> list[dict]:
        return list(self.db.query("SELECT * FROM appeals WHERE decision_id = ? ORDER BY id", [decision_id]))

    def _append(self, table: str, row: dict) -> dict:
        row = dict(row, created_at=now_iso())
        conn = self.db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                last = conn.execute(f"SELECT id, row_hash FROM {table} ORDER BY id DESC LIMIT 1").fetchone()
                row["id"] = (last[0] + 1) if last else 1
                row["prev_hash"] = last[1] if last else GENESIS
                row["row_hash"] = sha256(row["prev_hash"] + "\n" + canonical(sorted(row.items())))
                cols = ", ".join(row)
                conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' for _ in row)})", list(row.values()))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
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
            if row["purged_at"] is None and sha256(row["reasons_json"]) != row["reasons_sha256"]:
                return ChainReport(False, n, "reasons do not match their digest (altered)", **where)
            prev = row["row_hash"]
            expected_seq += 1
        return ChainReport(True, n)

    def purge(self, before: str) -> int:
        """Drop advertisers' text from verdicts checked before `before` (ISO date).

        The decision, policy version, rule ids and digests stay, so the chain
        still verifies; evidence fragments are removed from the reasons.
        """
        rows = list(
            self.db.query("SELECT seq, reasons_json FROM verdicts WHERE checked_at < ? AND purged_at IS NULL", [before])
        )
        stamp = now_iso()
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for row in rows:
                reasons = json.loads(row["reasons_json"])
                for r in reasons:
                    r["evidence"] = [{"field": e["field"]} for e in r.get("evidence", [])]
                conn.execute(
                    "UPDATE verdicts SET submission_json = NULL, trace_json = NULL, reasons_json = ?, purged_at = ? "
                    "WHERE seq = ?",
                    [canonical(reasons), stamp, row["seq"]],
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
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

    def find_key(self, key_hash: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", [key_hash]))
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
