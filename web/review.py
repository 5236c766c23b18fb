"""Pages for policy staff: sign in, the review queue, a verdict's full trace, Try it.

Signing in takes a reviewer or admin API key and starts a session (web/auth.py);
every form here carries the session's CSRF token. With AUTH_DISABLED (tests
and evaluation only) no sign-in is needed. These pages are English only.

Try it is for staff too: an open form would let anyone probe the checker for
disguises that get through. Its verdicts are stored like any other (no
verdict is shown that was not stored) under advertiser_id "try-it", and
kept out of the review queue.
"""

from __future__ import annotations

import functools
import json
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, request, url_for

from checker.document import TEXT_FIELDS
from checker.errors import InvalidSubmission
from checker.explain import find_rule

from . import api, auth, i18n, links, verdicts
from .errors import ApiError, pages_blueprint
from .pages import reason_cards, render
from .state import engine

bp = pages_blueprint(Blueprint("review", __name__))

STATES = ("pending", "all")
CHECK_DECISIONS = ("review", "rejected", "approved")


def reviewer_page(view):
    """A page for a signed-in reviewer (or admin); others are sent to sign in."""

    @functools.wraps(view)
    def inner(*args, **kwargs):
        who = auth.session_principal("reviewer")
        if who is None:
            return redirect(url_for("review.login", next=request.full_path.rstrip("?")))
        g.principal = who
        return view(*args, **kwargs)

    return inner


def _require_csrf() -> None:
    if not auth.csrf_ok():
        raise ApiError(
            "forbidden", "The form has expired or did not come from this site. Reload the page and try again."
        )


def staff(template: str, status: int = 200, **context):
    """A staff page: English, with the signed-in person and a CSRF token for its forms."""
    return render(
        template,
        "en",
        status,
        principal=g.get("principal"),
        csrf_token=auth.csrf_token(),
        auth_disabled=current_app.config["AUTH_DISABLED"],
        **context,
    )


# -- signing in -------------------------------------------------------------------------------
@bp.route("/login", methods=["GET", "POST"])
def login():
    target = _safe_next(request.values.get("next"))
    if auth.session_principal("reviewer") is not None:
        return redirect(target)
    error = None
    status = 200
    if request.method == "POST":
        _require_csrf()
        if auth.sign_in(request.form.get("key", "").strip()) is not None:
            return redirect(target, code=303)
        error = "That key cannot sign in here: it is not valid, or it is not a reviewer or admin key."
        status = 401
    return staff("login.html", status, next=target, error=error)


@bp.post("/logout")
def logout():
    _require_csrf()
    auth.sign_out()
    return redirect(url_for("review.login"), code=303)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never //host, a scheme, or what a browser would clean into one.

    Browsers drop tabs and newlines from URLs and read a backslash as a slash,
    so "/\t/evil.example" is "//evil.example": no control character, space or
    backslash is let through at all.
    """
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and target.isprintable()
        and not any(c.isspace() or c == "\\" for c in target)
    ):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("review.queue")


# -- the queue ------------------------------------------------------------------------------
@bp.get("/review")
@reviewer_page
def queue():
    args = request.args
    bundle = engine().bundle
    policy_ids = [p.id for p in bundle.policies] if bundle else []
    policy = args.get("policy") or None
    decision = args.get("decision") or None
    state = args.get("state") or "pending"
    details = []
    if policy is not None and policy not in policy_ids:
        details.append({"field": "query.policy", "problem": "is not a policy in force"})
    if decision is not None and decision not in CHECK_DECISIONS:
        details.append({"field": "query.decision", "problem": f"must be one of {', '.join(CHECK_DECISIONS)}"})
    if state not in STATES:
        details.append({"field": "query.state", "problem": f"must be one of {', '.join(STATES)}"})
    if details:
        raise ApiError("invalid_parameter", "The filters have problems.", details)
    items = verdicts.queue(policy=policy, decision=decision, state=state)
    return staff(
        "review_queue.html",
        items=items,
        limit=verdicts.QUEUE_LIMIT,
        policies=policy_ids,
        decisions=CHECK_DECISIONS,
        states=STATES,
        selected={"policy": policy, "decision": decision, "state": state},
    )


# -- one verdict, all of it --------------------------------------------------------------------
@bp.get("/review/<decision_id>")
@reviewer_page
def verdict(decision_id: str):
    return _verdict_page(verdicts.require(decision_id))


@bp.post("/review/<decision_id>")
@reviewer_page
def decide(decision_id: str):
    _require_csrf()
    case = verdicts.require(decision_id)
    decision, note = request.form.get("decision"), request.form.get("note", "")
    try:
        verdicts.review(case, g.principal, decision, note)
    except ApiError as e:
        if e.code != "invalid_request":
            raise
        problems = {d["field"].removeprefix("$."): d["problem"] for d in e.details or []}
        return _verdict_page(case, problems=problems, form={"decision": decision, "note": note}, status=400)
    flash(f"Saved: {decision}. The advertiser's page now shows it.")
    return redirect(url_for("review.verdict", decision_id=decision_id), code=303)


def _verdict_page(case: verdicts.Case, problems: dict | None = None, form: dict | None = None, status: int = 200):
    reasons = case.reasons
    trace = case.trace
    bundle = engine().bundle
    same_version = bundle is not None and bundle.version == case.row["policy_version"]
    conditions = {}
    if same_version and trace:
        for item in trace.get("rules", []):
            rule = find_rule(bundle, item["policy"], item["rule"])
            if rule is not None:
                conditions[f"{item['policy']}/{item['rule']}"] = json.dumps(
                    rule.source.get("when"), ensure_ascii=False, indent=1
                )
    return staff(
        "review_verdict.html",
        status,
        case=case,
        reasons=reason_cards(reasons, "en"),
        reasons_lang=case.row["language"],
        ad=verdicts.marked_fields(case.submission, reasons),
        trace=trace,
        shadow=json.loads(case.row["shadow_json"]) if case.row.get("shadow_json") else [],
        conditions=conditions,
        same_version=same_version,
        history=case.history(),
        explanation_url=links.explanation_url(case.decision_id),
        problems=problems or {},
        form=form or {},
    )


# -- Try it -----------------------------------------------------------------------------------
TRY_FIELDS = ("headline", "body", "keywords", "landing_url", "on_screen_text", "transcript")


@bp.route("/", methods=["GET", "POST"])
@reviewer_page
def try_it():
    if request.method == "POST":
        _require_csrf()
        form = {name: request.form.get(name, "") for name in (*TRY_FIELDS, "language")}
        payload = _submission(form)
        try:
            answer = api.check_one(payload, try_it=True)
        except InvalidSubmission as e:
            # "$.keywords[3]" -> "keywords"; "$" (no text at all) -> the ad as a whole.
            problems = {d["field"].removeprefix("$.").split("[")[0].replace("$", "ad"): d["problem"] for d in e.details}
            return staff("try.html", 400, form=form, problems=problems, result=None)
        return redirect(url_for("review.try_it", verdict=answer["decision_id"]), code=303)
    result = None
    form = {"language": "en"}
    shown = request.args.get("verdict")
    reasons_lang = None
    if shown:
        case = verdicts.require(shown)
        sub = case.submission or {}
        form = {name: _form_value(sub.get(name)) for name in TRY_FIELDS} | {"language": sub.get("language", "")}
        reasons = reason_cards(case.reasons, "en")
        reasons_lang = case.row["language"]
        result = {
            "case": case,
            "reasons": reasons,
            "ad": verdicts.marked_fields(case.submission, reasons),
            "explanation_url": links.explanation_url(case.decision_id),
        }
    return staff("try.html", form=form, problems={}, result=result, reasons_lang=reasons_lang)


def _submission(form: dict) -> dict:
    sub: dict = {"advertiser_id": verdicts.TRY_IT_ADVERTISER}
    for name in TRY_FIELDS:
        value = form.get(name, "")
        if name == "keywords":
            words = [w.strip() for w in value.replace(",", "\n").splitlines() if w.strip()]
            if words:
                sub["keywords"] = words
        elif value.strip():
            sub[name] = value
    if form.get("language"):
        sub["language"] = form["language"]
    return sub


def _form_value(value) -> str:
    if isinstance(value, list):
        return "\n".join(value)
    return value or ""


# The ad's fields as staff forms name them: the pages' names (web/i18n.py), with a hint for keywords.
FIELD_TITLES = {
    "ad": "The ad",
    **{name: i18n.field_title("en", name) for name in TEXT_FIELDS},
    "keywords": f"{i18n.field_title('en', 'keywords')} (one a line)",
}


@bp.app_context_processor
def _field_titles():
    return {"field_titles": FIELD_TITLES}
