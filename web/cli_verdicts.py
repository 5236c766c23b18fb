"""CLI for the verdict log: verify the chain, purge old text.

    flask --app app verdicts verify [--head SEQ:HASH]
    flask --app app verdicts purge --before 2026-01-01

Both build on `checker.store.VerdictStore`, the same API the service uses.
Exit codes: 0 all well, 1 the log is not intact (or a purge left it so),
2 usage errors (click's own).
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime

import click
from flask import Flask
from flask.cli import with_appcontext

from checker.errors import StoreUnavailable

from .state import store


def register(app: Flask) -> None:
    """Add the `verdicts` commands to `app.cli`."""
    app.cli.add_command(verdicts)


@click.group()
def verdicts() -> None:
    """The verdict log: verify the hash chain, purge advertisers' text."""


def _head(ctx, param, value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    m = re.fullmatch(r"([0-9]+):([0-9a-f]{64})", value.strip())
    if not m:
        raise click.BadParameter("expected SEQ:HASH as printed by an earlier `verdicts verify` (e.g. 42:9f3c…)")
    return int(m.group(1)), m.group(2)


@verdicts.command("verify")
@click.option(
    "--head",
    callback=_head,
    metavar="SEQ:HASH",
    help="A head recorded earlier: it must still be in the chain (catches rows cut off the end).",
)
@with_appcontext
def verify(head: tuple[int, str] | None) -> None:
    """Walk the hash chain and report the first altered, inserted or deleted row.

    Exits 1 if the log is not intact. Deleting the newest rows leaves a valid
    (shorter) chain; record the printed head and pass it back with --head to
    catch that too.
    """
    try:
        report = store().verify()
        newest = store().list(limit=1)
    except (StoreUnavailable, sqlite3.Error) as e:
        raise click.ClickException(f"cannot read the verdict log: {e}") from None
    if not report.ok:
        click.echo(f"verdict log NOT intact: {report.rows} row(s) read")
        click.echo(f"first problem: seq {report.seq} ({report.decision_id}): {report.problem}")
        raise SystemExit(1)
    if head is not None:
        seq, expected = head
        rows = store().list(before_seq=seq + 1, limit=1, columns="seq, decision_id, row_hash")
        if not rows or rows[0]["seq"] != seq:
            click.echo(f"verdict log NOT intact: recorded head seq {seq} is missing (rows cut off the end)")
            raise SystemExit(1)
        if rows[0]["row_hash"] != expected:
            click.echo(
                f"verdict log NOT intact: seq {seq} ({rows[0]['decision_id']}) has a different hash than recorded"
            )
            raise SystemExit(1)
    click.echo(f"verdict log intact: {report.rows} verdict(s), every link verified")
    if newest:
        click.echo(f"head: {newest[0]['seq']}:{newest[0]['row_hash']}")


@verdicts.command("purge")
@click.option(
    "--before",
    "before",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"]),
    help="Purge verdicts checked before this UTC date (YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM:SS).",
)
@with_appcontext
def purge(before: datetime) -> None:
    """Remove old submissions' text, keeping every verdict and a valid chain.

    The advertiser's submission, the review trace and the quoted evidence go;
    the decision, the policy version, the rule ids, the fields and the
    digests stay. The chain covers the digests, so it still verifies.
    """
    before = before.replace(tzinfo=UTC)
    if before > datetime.now(UTC):
        raise click.BadParameter("is in the future: it would purge verdicts as they are made", param_hint="'--before'")
    # Stored times look like 2026-01-03T00:00:00.000Z; a shorter prefix sorts before them.
    cutoff = (
        before.strftime("%Y-%m-%d") if before.time() == datetime.min.time() else before.strftime("%Y-%m-%dT%H:%M:%S")
    )
    log = store()
    try:
        # Overwrite what is freed instead of leaving it in free pages, then move the
        # rewritten pages from the WAL into the database file: until then the old
        # pages, text included, are still in it.
        log.db.execute("PRAGMA secure_delete = ON")
        n = log.purge(cutoff)
        busy, _, _ = log.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        report = log.verify()
    except (StoreUnavailable, sqlite3.Error) as e:
        raise click.ClickException(f"cannot write the verdict log: {e}") from None
    click.echo(f"purged the text of {n} verdict(s) checked before {cutoff} (UTC)")
    if busy:
        click.echo(
            "note: readers kept the log from being checkpointed; the old text leaves the file at the next checkpoint"
        )
    if not report.ok:
        click.echo(f"verdict log NOT intact: seq {report.seq} ({report.decision_id}): {report.problem}")
        raise SystemExit(1)
    click.echo(f"verdict log intact: {report.rows} verdict(s), every link verified")
