"""CLI tools for policy authors: validate, test, check, replay, coverage.

    flask policies validate [DIR] [--strict] [--json]
    flask policies test [DIR]
    flask policies coverage [--since DATE] [--all] [--json]
    flask check FILE [--workers N] [--log]
    flask replay --policies DIR [--since DATE] [--limit N] [--json] [--html FILE]

Thin: each command reads its arguments, calls checker.authoring, and prints
or renders what it returns. See docs/authoring.md.
"""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path

import click
from flask import Flask, current_app, render_template
from flask.cli import with_appcontext

from checker import authoring
from checker.bundle import Bundle, load_bundle, run_rule_examples
from checker.errors import PolicyError, StoreUnavailable
from checker.evaluate import Checker
from checker.store import now_iso

from . import links
from .cli import ready_engine_or_exit
from .state import store

LONG_INPUT = 50  # items: show a progress bar from here on
DATE = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"])


def register(app: Flask) -> None:
    """Add the authoring commands to `app.cli`."""
    app.cli.add_command(policies)
    app.cli.add_command(check_command)
    app.cli.add_command(replay_command)


def _policy_dir(directory: str | None) -> str:
    return directory or current_app.config["POLICY_DIR"]


def _load(directory: str) -> Bundle:
    """A candidate bundle without running its examples (the commands report those themselves)."""
    try:
        return load_bundle(directory, run_examples=False)
    except PolicyError as e:
        for problem in e.problems:
            click.echo(f"error: {problem}", err=True)
        click.echo(f"{len(e.problems)} problem(s): run `flask policies validate {directory}`.", err=True)
        sys.exit(1)


def _since(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S") if value else None


def _echo_json(value) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@click.group()
def policies() -> None:
    """Validate, test and measure the policy bundle."""


@policies.command("validate")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@with_appcontext
def validate_command(directory: str | None, strict: bool, as_json: bool) -> None:
    """Check a policy directory (default: the app's) beyond its schema.

    Errors (exit 1): everything the service refuses to start on, and examples
    that no longer do what they claim. Warnings (exit 0 unless --strict):
    terms in both a trigger and a benign list, duplicate terms, lists no rule
    uses, rules or branches without examples, terms that are very common words.
    """
    path = _policy_dir(directory)
    result = authoring.validate(path)
    failed = result.failed(strict)
    if as_json:
        _echo_json(
            {
                "path": str(path),
                "ok": not failed,
                "errors": len(result.errors),
                "warnings": len(result.warnings),
                "issues": [i.to_dict() for i in result.issues],
            }
        )
    else:
        for issue in result.issues:
            click.echo(f"{issue.severity}: {issue}")
        tail = " (the authoring checks run once the bundle loads)" if result.bundle is None else ""
        click.echo(f"{len(result.errors)} error(s), {len(result.warnings)} warning(s) in {path}{tail}")
    sys.exit(1 if failed else 0)


@policies.command("test")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@with_appcontext
def test_command(directory: str | None) -> None:
    """Run every rule's examples; a table of rules with examples passed and failed."""
    rows = authoring.example_table(_load(_policy_dir(directory)))
    for line in authoring.example_lines(rows):
        click.echo(line)
    sys.exit(0 if all(r.ok for r in rows) else 1)


@policies.command("coverage")
@click.option("--since", type=DATE, help="Only verdicts checked on or after this date.")
@click.option("--all", "show_all", is_flag=True, help="List every term, not only the top 30.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@with_appcontext
def coverage_command(since, show_all: bool, as_json: bool) -> None:
    """Per rule and per term: hits in the verdict log, reviews, overturns; and what never fired."""
    eng = ready_engine_or_exit()
    db = store()
    cov = authoring.coverage(authoring.logged_rows(db, _since(since)), eng.bundle, authoring.latest_reviews(db))
    if as_json:
        _echo_json(cov)
        return
    for line in authoring.coverage_lines(cov, all_terms=show_all):
        click.echo(line)


@click.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Worker processes; 0: one per CPU core. Output keeps the input order.",
)
@click.option("--log", "log", is_flag=True, help="Store every verdict in the verdict log, as the service does.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: on when stdout is not a terminal or the input is long).",
)
@with_appcontext
def check_command(file: str, workers: int, log: bool, progress: bool | None) -> None:
    """Check one submission (JSON) or many (JSONL); print one JSON verdict a line.

    The verdicts are the API's answers, through the same pipeline. A line that
    is not a valid submission prints {"line": N, "error": {...}} and the run
    goes on (exit 1 at the end). Lines of the evaluation format
    ({"submission": {...}, "expected": ...}) are checked by their submission.
    Nothing is written to the verdict log unless --log is given.
    """
    eng = ready_engine_or_exit()
    with click.open_file(file, encoding="utf-8") as fh:
        text = fh.read()
    items = authoring.read_items(text, jsonl=True if file.endswith(".jsonl") else None)
    workers = authoring.cpu_count() if workers == 0 else workers
    show = progress if progress is not None else (not sys.stdout.isatty() or len(items) >= LONG_INPUT)
    db = store() if log else None
    tally: dict[str, int] = {}
    results = authoring.check_items(eng.bundle, items, workers)
    bar = click.progressbar(results, length=len(items), label="checking", file=sys.stderr) if show else None
    # A logged verdict has a page, so it gets its explanation link as the API gives it (a
    # request context only to build that relative URL).
    links_ctx = current_app.test_request_context() if log else nullcontext()
    try:
        with bar or nullcontext(results) as each, links_ctx:
            for res in each:
                out = res.output()
                if res.error is None and db is not None:
                    try:
                        db.record(res.row)  # stored before it is printed, as the service answers
                    except StoreUnavailable as e:
                        raise click.ClickException(f"{e}: stopped before line {res.number}") from None
                    out = {**out, "explanation_url": links.explanation_url(res.response["decision_id"])}
                key = res.response["decision"] if res.error is None else "invalid"
                tally[key] = tally.get(key, 0) + 1
                click.echo(json.dumps(out, ensure_ascii=False))
    except authoring.PolicyChanged as e:
        raise click.ClickException(str(e)) from None
    counts = ", ".join(f"{tally[k]} {k}" for k in (*authoring.DECISIONS, "invalid") if tally.get(k))
    logged = "; stored in the verdict log" if log else "; nothing stored (--log to store)"
    click.echo(f"{len(items)} checked: {counts or 'nothing'}{logged}.", err=True)
    sys.exit(1 if tally.get("invalid") else 0)


@click.command("replay")
@click.option(
    "--policies",
    "policy_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="The candidate policy directory.",
)
@click.option("--since", type=DATE, help="Only verdicts checked on or after this date.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest N verdicts.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Also write the report as a web page.")
@with_appcontext
def replay_command(policy_dir: str, since, limit: int | None, as_json: bool, html_path: str | None) -> None:
    """Re-run logged submissions against a candidate policy directory and say what would change.

    Nothing is written to the verdict log.
    """
    bundle = _load(policy_dir)
    failing = run_rule_examples(bundle, Checker(bundle))
    if failing:
        click.echo(
            f"warning: {len(failing)} example(s) of the candidate fail (flask policies test {policy_dir})", err=True
        )
    db = store()
    report = authoring.replay(authoring.logged_rows(db, _since(since), limit), bundle, authoring.latest_reviews(db))
    report["query"] = {"since": _since(since), "limit": limit}
    if as_json:
        _echo_json(report)
    else:
        for line in authoring.replay_lines(report):
            click.echo(line)
    if html_path:
        page = render_template("replay.html", report=report, generated_at=now_iso(), failing_examples=len(failing))
        Path(html_path).write_text(page, encoding="utf-8")
        click.echo(f"Wrote {html_path}", err=True)
