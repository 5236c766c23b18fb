"""Pages for advertisers: the verdict page behind a signed link, appeals, the policy centre.

The verdict page is public to whoever holds the link, so it shows only what
an advertiser may see: the reasons as answered, with withheld evidence
removed, and the ad's text with the disclosed evidence marked in place.
Reviewers see everything on their own pages (web/review.py).

Language: `?lang=` (the page's language switcher) first, then the language
the advertiser asked for in the submission, then Accept-Language, then
English.
"""

from __future__ import annotations

from functools import partial
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, has_request_context, redirect, render_template, request, url_for

from checker.bundle import example_submission
from checker.explain import advertiser_view, phrases, pick_from_header, pick_language, reasons_in_language

from . import i18n, links, verdicts
from .errors import ApiError, pages_blueprint, serves_pages
from .state import engine, ready_engine

bp = pages_blueprint(Blueprint("pages", __name__))

# No script runs on any page; styles come only from /static.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def page_languages() -> set[str]:
    eng = engine()
    return (eng.languages or {"en"}) & set(i18n.TEXT) | {i18n.FALLBACK}


def page_language(preferred: str | None = None) -> str:
    """?lang=, else `preferred` (the submission's language), else Accept-Language, else English."""
    available = page_languages()
    return (
        pick_language(request.args.get("lang"), available, default=None)
        or pick_language(preferred, available, default=None)
        or pick_from_header(list(request.accept_languages), available)
        or i18n.FALLBACK
    )


def render(template: str, lang: str, status: int = 200, **context):
    """A page in `lang`."""
    return render_template(template, **{**language_context(lang), **context}), status


def language_context(lang: str) -> dict:
    """`t(key)` gives the page's words, `decision_word(d)` a decision's name, `languages` the switcher."""
    words = phrases(lang)["decision"]
    return {
        "lang": lang,
        "t": partial(i18n.t, lang),
        "decision_word": lambda d: words.get(d, d),
        "languages": [(code, i18n.LANGUAGE_NAMES[code]) for code in sorted(page_languages())],
        "field_title": partial(i18n.field_title, lang),
        "switch_url": _switch_url,
    }


def _switch_url(code: str) -> str:
    """This page in another language: the same path and query with `lang` replaced.

    Built from the path, not url_for: the query is the visitor's, and url_for
    would read some of it as its own arguments (_external, _method, the view's).
    """
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return f"{request.script_root}{request.path}?{urlencode([*args, ('lang', code)])}"


@bp.after_app_request
def _page_headers(response):
    """Our pages: no scripts, no framing, no referrer beyond this site (tokens live in URLs), no caching."""
    if serves_pages():
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.endpoint not in ("pages.policy_centre", "pages.policy_page"):
            response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.app_template_filter("when")
def _when(iso: str | None) -> str:
    """'2026-11-28T14:27:16.037Z' -> '2026-11-28 14:27 UTC'."""
    if not iso:
        return ""
    return f"{iso[:10]} {iso[11:16]} UTC"


@bp.app_context_processor
def _default_language():
    """Templates rendered outside `render` (error.html, from web/errors.py) get the visitor's language.

    Values passed to render_template win over these.
    """
    if not has_request_context():
        return language_context(i18n.FALLBACK)
    return language_context(page_language())


# -- the verdict page --------------------------------------------------------------------
def case_for_link(decision_id: str, token: str | None) -> verdicts.Case:
    """The verdict behind a signed link; a 404 for any bad link, as for an unknown verdict."""
    if not links.valid(decision_id, token):
        raise verdicts.not_found()
    return verdicts.require(decision_id)


@bp.get("/verdicts/<decision_id>")
def verdict(decision_id: str):
    token = request.args.get("token")
    case = case_for_link(decision_id, token)
    return verdict_page(case, token)


def verdict_page(case: verdicts.Case, token: str, *, reason_text: str = "", problem: str | None = None, status=200):
    sub = case.submission
    # The advertiser chose a language if the submission named one (a purged row keeps only what was used).
    chosen = case.row["language"] if (sub is None or sub.get("language")) else None
    lang = page_language(chosen)
    reasons, reasons_lang = case.reasons, case.row["language"]
    if lang != reasons_lang:
        again = _reasons_in(case, lang)
        if again is not None:
            reasons, reasons_lang = again, lang
    shown = reason_cards(reasons, lang)
    return render(
        "verdict.html",
        lang,
        status,
        case=case,
        token=token,
        reasons=shown,
        reasons_lang=reasons_lang,
        ad=verdicts.marked_fields(sub, shown),
        history=_advertiser_history(case),
        reason_text=reason_text,
        problem=problem,
        # Also right when this renders the answer to the appeal form's POST.
        switch_url=lambda code: url_for("pages.verdict", decision_id=case.decision_id, token=token, lang=code),
    )


def reason_cards(reasons: list[dict], lang: str) -> list[dict]:
    """The reasons as templates/_reason.html shows them to the advertiser: withheld evidence removed."""
    shown = [advertiser_view(r) for r in reasons]
    for r, full in zip(shown, reasons, strict=True):
        # Fields are named even when the words are withheld: that is where to look.
        r["fields"] = list(dict.fromkeys(i18n.field_title(lang, e["field"]) for e in full["evidence"]))
        r["help_link"] = f"{r['help_url']}?lang={lang}"
        r["withheld"] = any(not e.get("disclosed", True) for e in full["evidence"])  # staff pages say so
    return shown


def _reasons_in(case: verdicts.Case, lang: str) -> list[dict] | None:
    """The reasons in another language, only with the very policies that decided."""
    bundle = engine().bundle
    trace = case.trace
    if bundle is None or trace is None or case.row["policy_version"] != bundle.version:
        return None
    return reasons_in_language(trace.get("evidence", []), bundle, lang)


def _advertiser_history(case: verdicts.Case) -> list[dict]:
    """What the advertiser sees of the history: decisions and their own appeals, not reviewers' notes."""
    return [{k: v for k, v in e.items() if k not in ("note", "by")} for e in case.history()]


@bp.post("/verdicts/<decision_id>/appeal")
def appeal(decision_id: str):
    """The appeal form on the verdict page.

    This page has no session, so there is no session-bound CSRF token. The
    form carries the signed link token in a hidden field, and that token is
    the credential: a cross-site form cannot forge a request without knowing
    it, and it is never sent to other sites (Referrer-Policy: same-origin).
    As a second fence, a request whose Origin (or, failing that, Referer)
    names another host is refused.
    """
    token = request.form.get("token")
    case = case_for_link(decision_id, token)
    if not _same_origin():
        raise ApiError("forbidden", "Appeals can only be sent from this site's own page.")
    reason = request.form.get("reason", "")
    lang = page_language(request.form.get("lang"))
    try:
        verdicts.appeal(case, reason, lang)
    except verdicts.AppealConflict as e:
        # Another appeal or a review came first: the page as it is now says why (in its own words).
        return verdict_page(verdicts.require(decision_id), token, status=e.status)
    except ApiError as e:
        if e.code != "invalid_request":
            raise
        if len(reason) > verdicts.MAX_TEXT:
            problem = i18n.t(lang, "appeal_too_long")
        elif reason.strip():
            problem = i18n.t(lang, "appeal_bad_characters")
        else:
            problem = i18n.t(lang, "appeal_blank")
        return verdict_page(case, token, reason_text=reason, problem=problem, status=e.status)
    return redirect(
        url_for("pages.verdict", decision_id=decision_id, token=token, lang=lang, _anchor="appeal"), code=303
    )


def _same_origin() -> bool:
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return True  # privacy tools strip both; the token still guards the form
    return urlsplit(source).netloc == request.host


# -- the policy centre --------------------------------------------------------------------
@bp.get("/policies")
def policy_centre():
    lang = page_language()
    bundle = _bundle()
    return render("policies.html", lang, policies=[_policy_view(p, lang) for p in bundle.policies])


@bp.get("/policies/<policy_id>")
def policy_page(policy_id: str):
    lang = page_language()
    bundle = _bundle()
    policy = bundle.policy(policy_id)
    if policy is None:
        raise ApiError("not_found", "No such page.")
    return render(
        "policy.html",
        lang,
        policy=_policy_view(policy, lang),
        examples=policy_examples(policy),
    )


def _bundle():
    return ready_engine().bundle


def _policy_view(policy, lang: str) -> dict:
    help_ = policy.help.get(lang) or policy.help[i18n.FALLBACK]
    return {
        "id": policy.id,
        "title": policy.title.get(lang) or policy.title[i18n.FALLBACK],
        "description": policy.description.get(lang) or policy.description[i18n.FALLBACK],
        "forbidden": help_.get("forbidden", []),
        "allowed": help_.get("allowed", []),
        "review": help_.get("review", []),
        "rules": [
            {
                "title": r.title.get(lang) or r.title[i18n.FALLBACK],
                "message": r.message.get(lang) or r.message[i18n.FALLBACK],
                "advice": r.advice.get(lang) or r.advice[i18n.FALLBACK],
                "decision": "rejected" if r.decision == "reject" else "review",
            }
            for r in policy.rules
            if r.mode == "enforce"
        ],
    }


_EXAMPLES: dict[tuple[str, str], dict[str, list[str]]] = {}


def policy_examples(policy) -> dict[str, list[str]]:
    """The policy's own rule examples, grouped by what the service decides for each today.

    Examples are run through the checker rather than trusted: a `no_match`
    example of one rule may still be caught by another. An example whose
    verdict relies on withheld words (code words) is never shown, and neither
    is any example of a rule that withholds its words: its `no_match`
    examples sit next to the words it looks for, so they would teach them.
    """
    eng = engine()
    key = (eng.bundle.version, policy.id)
    cached = _EXAMPLES.get(key)
    if cached is not None:
        return cached
    groups: dict[str, list[str]] = {"rejected": [], "review": [], "approved": []}
    for rule in policy.rules:
        if rule.mode != "enforce" or not rule.disclose:
            continue
        for kind in ("match", "no_match"):
            for example in rule.examples[kind]:
                sub = example_submission(example)
                if eng.bundle.submissions.problems(sub):
                    continue
                v = eng.checker.check(sub)
                if any(not e.disclosed for f in v.findings + v.shadow for e in f.evidence):
                    continue
                text = " · ".join(
                    x for name in ("headline", "body", "on_screen_text", "transcript") if (x := sub.get(name))
                )
                if text and text not in groups[v.decision]:
                    groups[v.decision].append(text)
    if len(_EXAMPLES) > 64:
        _EXAMPLES.clear()
    _EXAMPLES[key] = groups
    return groups
