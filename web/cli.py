"""Flask CLI commands. Each builds on the same `checker` API the service uses."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask
from flask.cli import with_appcontext

from checker import evaluation, pipeline
from checker.errors import InvalidSubmission

from . import auth
from .errors import ApiError
from .state import Engine, engine, ready_engine, store


def register(app: Flask) -> None:
    app.cli.add_command(eval_command)
    app.cli.add_command(keys)


def ready_engine_or_exit() -> Engine:
    """The engine in force; if its policies are not loaded, print why and exit 2."""
    try:
        return ready_engine()
    except ApiError:
        click.echo(str(engine().error), err=True)
        sys.exit(2)


COLUMNS = [
    ("recall", "recall"),
    ("strict_recall", "strict"),
    ("fp_hard", "fp_hard"),
    ("fp_soft", "fp_soft"),
    ("fp_any", "fp_any"),
    ("policy_accuracy", "policy"),
    ("review_agreement", "review"),
]


@click.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--by-tag", is_flag=True, help="Also score every tag (lang:sv, evasion:leet, trap:...).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--misses", is_flag=True, help="List the cases the checker got wrong.")
@with_appcontext
def eval_command(file: str, by_tag: bool, as_json: bool, misses: bool) -> None:
    """Run labelled ads through the checker and print recall and false-positive rates.

    Nothing is written to the verdict log.
    """
    eng = ready_engine_or_exit()
    try:
        cases = evaluation.read_cases(file)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    for case in cases:
        try:
            sub = eng.bundle.submissions.validate(case.submission)
        except InvalidSubmission as e:
            case.got, case.error = "invalid", str(e)
            continue
        out = pipeline.run(eng.bundle, eng.checker, sub, eng.languages)
        case.got = out.response["decision"]
        case.reasons = out.response["reasons"]
        case.policies = sorted({r["policy"] for r in case.reasons})
    overall = evaluation.score(cases)
    tags = evaluation.by_tag(cases) if by_tag else {}
    if as_json:
        click.echo(json.dumps({"policy_version": eng.bundle.version, "overall": overall, "by_tag": tags}, indent=2))
    else:
        click.echo(f"policy_version {eng.bundle.version}")
        _table({"overall": overall, **tags})
    if misses:
        for c in evaluation.misses(cases):
            rules = ", ".join(f"{r['policy']}/{r['rule']}" for r in c.reasons) or "-"
            click.echo(f"MISS {c.id}: expected {c.expected} {c.policy or ''} got {c.got} [{rules}] {c.error or ''}")
    if overall["errors"]:
        click.echo(f"{overall['errors']} case(s) were not valid submissions.", err=True)


def _table(rows: dict[str, dict]) -> None:
    width = max(len(k) for k in rows) + 2
    head = "".join(f"{label:>9}" for _, label in COLUMNS)
    click.echo(f"{'':<{width}}{'n':>5}{head}")
    for name, s in rows.items():
        cells = "".join(f"{_fmt(s[key]):>9}" for key, _ in COLUMNS)
        click.echo(f"{name:<{width}}{s['cases']:>5}{cells}")


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"


@click.group()
def keys() -> None:
    """Manage API keys (stored only as hashes)."""


@keys.command("create")
@click.option("--role", type=click.Choice(auth.ROLES), required=True)
@click.option("--name", required=True, help="Who or what uses the key.")
@with_appcontext
def keys_create(role: str, name: str) -> None:
    """Make a key and print it once."""
    key_id, key = auth.create_key(role, name)
    click.echo(f"{key_id}  {role}  {name}")
    click.echo(key)
    click.echo("Store this key now: it cannot be shown again.", err=True)


@keys.command("list")
@with_appcontext
def keys_list() -> None:
    """Every key: id, role, name, created, revoked."""
    for k in store().api_keys():
        state = f"revoked {k['revoked_at']}" if k["revoked_at"] else "active"
        click.echo(f"{k['key_id']}  {k['role']:<9}  {k['name']}  created {k['created_at']}  {state}")


@keys.command("revoke")
@click.argument("key_id")
@with_appcontext
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id (from `keys list`)."""
    if not store().revoke_key(key_id):
        raise click.ClickException(f"no active key {key_id!r}")
    click.echo(f"revoked {key_id}")
