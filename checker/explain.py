"""Turn findings into reasons an advertiser can read and act on.

A reason names the policy, says what it forbids, which field held the
problem, quotes the fragment (unless the rule withholds it), says what to
change and links to the policy page, in the advertiser's language with
English as the fallback. It is built from the finding alone: nothing here
searches the text again.

Withheld evidence (`disclose: false` on a rule or a lexicon entry: code words,
obfuscated spellings) is never quoted and never shapes the advice; the field
it was found in is still named, so the advertiser knows where to look.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from itertools import pairwise

from .bundle import Bundle, Rule
from .evaluate import Evidence, Finding

FALLBACK = "en"

# Field names as an advertiser knows them, in the sentence "Found in the ...".
FIELD_NAMES = {
    "en": {
        "headline": "headline",
        "body": "body text",
        "keywords": "keywords",
        "landing_url": "landing page address",
        "on_screen_text": "on-screen text",
        "transcript": "spoken words",
    },
    "sv": {
        "headline": "rubriken",
        "body": "brödtexten",
        "keywords": "sökorden",
        "landing_url": "länkadressen",
        "on_screen_text": "texten i bild",
        "transcript": "det som sägs",
    },
    "de": {
        "headline": "Überschrift",
        "body": "Anzeigentext",
        "keywords": "Keywords",
        "landing_url": "Zielseiten-Adresse",
        "on_screen_text": "eingeblendeten Text",
        "transcript": "gesprochenen Text",
    },
}

PHRASES = {
    "en": {
        "found_in": "Found in the {fields}",
        "and": "and",
        "or": "or",
        "quote": "“{}”",
        "policy": "policy {}",
        "withheld_all": "We do not quote the words this rule looks for.",
        "withheld_some": "and words we do not quote",
        "read_more": "Read the policy",
        "decision": {"rejected": "Rejected", "review": "In review", "approved": "Approved"},
    },
    "sv": {
        "found_in": "Hittat i {fields}",
        "and": "och",
        "or": "eller",
        "quote": "”{}”",
        "policy": "policyn {}",
        "withheld_all": "Vi citerar inte de ord som regeln letar efter.",
        "withheld_some": "och ord som vi inte citerar",
        "read_more": "Läs policyn",
        "decision": {"rejected": "Avvisad", "review": "Granskas", "approved": "Godkänd"},
    },
    "de": {
        "found_in": "Gefunden im Feld {fields}",
        "and": "und",
        "or": "oder",
        "quote": "„{}“",
        "policy": "Richtlinie {}",
        "withheld_all": "Die Wörter, nach denen diese Regel sucht, zitieren wir nicht.",
        "withheld_some": "und Wörter, die wir nicht zitieren",
        "read_more": "Richtlinie lesen",
        "decision": {"rejected": "Abgelehnt", "review": "In Prüfung", "approved": "Freigegeben"},
    },
}

# What to change when an innocent use trips a rule, per (rule id, concept).
# A tip applies only when the evidence is one of its `terms` (the bare word
# "ivory" may be a colour; "ivory carving" never is), spelled plainly (a
# disguised spelling is no innocent colour word) and disclosed. `say` is in
# the advertiser's language; the `words` it suggests are in the language of
# the matched term (a Swedish advertiser's English headline needs English
# words). {text} is the quoted term. tests/test_explain.py runs every
# suggestion through the shipped policies to prove it is approved.
PLAIN_SPELLING = {"inflection", "compound"}  # transforms that still mean "written as the word"


def pick_language(wanted: str | None, available, default: str | None = FALLBACK) -> str | None:
    """The primary subtag of `wanted` if we have it, else `default` (English)."""
    if wanted:
        primary = wanted.split("-")[0].split("_")[0].lower()
        if primary in available:
            return primary
    return default


def pick_from_header(accept_language: list[tuple[str, float]], available) -> str | None:
    """The best of an Accept-Language header's (tag, quality) pairs we speak, or None."""
    for tag, quality in sorted(accept_language, key=lambda p: -p[1]):
        if quality <= 0 or tag == "*":
            continue
        primary = tag.split("-")[0].split("_")[0].lower()
        if primary in available:
            return primary
    return None


def localized(texts: dict[str, str], lang: str) -> str:
    return texts.get(lang) or texts[FALLBACK]


def phrases(lang: str) -> dict:
    return PHRASES.get(lang, PHRASES[FALLBACK])


def field_label(field: str, lang: str) -> str:
    base = field.split("[")[0]
    names = FIELD_NAMES.get(lang, FIELD_NAMES[FALLBACK])
    return names.get(base, base)


def find_rule(bundle: Bundle | None, policy_id: str | None, rule_id: str | None) -> Rule | None:
    """A rule by policy and rule id, or None when the bundle has no such rule."""
    policy = bundle.policy(policy_id) if bundle is not None and policy_id else None
    return next((r for r in policy.rules if r.id == rule_id), None) if policy else None


def reason(finding: Finding, bundle: Bundle, lang: str) -> dict:
    """One reason, as answered to the ad-submission flow and stored."""
    rule = finding.rule
    policy = bundle.policy(finding.policy)
    words = phrases(lang)
    policy_title = localized(policy.title, lang) if policy else finding.policy
    fields: list[str] = []
    quotes: list[str] = []
    withheld = 0
    for ev in finding.evidence:
        label = field_label(ev.field, lang)
        if label not in fields:
            fields.append(label)
        if not ev.disclosed:
            withheld += 1
        elif ev.text not in quotes:
            quotes.append(ev.text)
    found = _found_in(fields, words)
    if found and quotes:
        found += ": " + ", ".join(words["quote"].format(q) for q in quotes[:4])
        if withheld:
            found += f", {words['withheld_some']}"
    if found:
        found += "."
        if withheld and not quotes:
            found += " " + words["withheld_all"]
    forbids = _with_policy(localized(rule.message, lang), _policy_phrase(policy_title, words))
    return {
        "policy": finding.policy,
        "policy_title": policy_title,
        "rule": rule.id,
        "decision": finding.decision,
        "title": localized(rule.title, lang),
        "message": f"{forbids} {found}".strip(),
        "advice": " ".join([localized(rule.advice, lang), *_tips(finding, lang)]),
        "language": lang,
        "help_url": f"/policies/{finding.policy}",
        "evidence": [e.public() for e in finding.evidence],
    }


def _found_in(labels: list[str], words: dict) -> str:
    return words["found_in"].format(fields=_join(labels, words["and"])) if labels else ""


def _policy_phrase(policy_title: str, words: dict) -> str:
    return words["policy"].format(words["quote"].format(policy_title))


def _with_policy(sentence: str, policy: str) -> str:
    """'Ads may not sell ivory.' + policy -> 'Ads may not sell ivory (policy “…”).'"""
    sentence = sentence.strip()
    if sentence[-1:] in ".!?":
        return f"{sentence[:-1]} ({policy}){sentence[-1]}"
    return f"{sentence} ({policy})."


def _tips(finding: Finding, lang: str) -> list[str]:
    out: list[str] = []
    words = phrases(lang)
    tips = {tip["concept"]: tip for tip in finding.rule.tips}
    for ev in finding.evidence:
        tip = tips.get(ev.concept)
        if tip is None or not ev.disclosed or not set(ev.transforms) <= PLAIN_SPELLING or ev.term is None:
            continue
        # A tip about "ivory" also serves "ivory bangle" (the word may still be a
        # colour), not "elephant ivory".
        matched = ev.term.lower().split()
        found = {
            code: t for code, terms in tip["terms"].items() for t in terms if t.split() == matched[: len(t.split())]
        }
        if not found:
            continue
        term_lang = lang if lang in found else next(iter(found))
        term = found[term_lang]
        filled = {
            slot: _join([words["quote"].format(w) for w in ws], words["or"])
            for slot, ws in tip["words"][term_lang].items()
        }
        text = localized(tip["say"], lang).format(text=words["quote"].format(term), **filled)
        if text not in out:
            out.append(text)
    return out


def _join(items: list[str], and_word: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {and_word} " + items[-1]


def reasons(findings: list[Finding], bundle: Bundle, lang: str) -> list[dict]:
    return [reason(f, bundle, lang) for f in findings]


def advertiser_view(reason_dict: dict) -> dict:
    """A stored reason as an advertiser may see it: withheld evidence removed."""
    return {
        **reason_dict,
        "evidence": [e for e in reason_dict.get("evidence", []) if e.get("disclosed", True)],
    }


def reasons_in_language(trace_evidence: list[dict], bundle: Bundle, lang: str) -> list[dict] | None:
    """A stored verdict's reasons rebuilt in another language, from its trace.

    Only valid with the bundle that made the verdict (the caller checks the
    policy version): the rules are looked up again by id. None when a rule is
    gone, so the caller shows the reasons as they were answered.
    """
    out = []
    for item in trace_evidence:
        rule = find_rule(bundle, item["policy"], item["rule"])
        if rule is None:
            return None
        evidence = tuple(
            Evidence(
                field=e["field"],
                start=e["start"],
                end=e["end"],
                text=e["text"],
                disclosed=e["disclosed"],
                transforms=tuple(e.get("transforms", ())),
                concept=e.get("concept", ""),
                lexicon=e.get("lexicon", ""),
                term=e.get("term"),
            )
            for e in item["evidence"]
        )
        out.append(reason(Finding(rule, evidence), bundle, lang))
    return out


# -- what a purge keeps -----------------------------------------------------------------
PURGE_KEEPS = ("policy", "policy_title", "rule", "decision", "title", "language", "help_url")
_SENTENCES = re.compile(r"(?<=[.!?])\s+")


def purged_reason(reason: dict, ad_words: Iterable[str] = ()) -> dict:
    """A reason without a word of the ad, so that it can outlive the ad's text.

    The message keeps what the rule forbids and the fields, not the quotes; the
    advice loses every sentence that quotes one of `ad_words` (evidence texts,
    matched terms: the tips). Built from the reason alone, so the verdict log
    can chain its digest when the verdict is written.
    """
    lang = reason.get("language") or FALLBACK
    words = phrases(lang)
    fields = [e["field"] for e in reason.get("evidence", [])]
    out = {k: reason[k] for k in PURGE_KEEPS if k in reason}
    found = _found_in(_labels(fields, lang), words)
    message = reason.get("message", "")
    marker = f"({_policy_phrase(reason.get('policy_title', ''), words)})"
    at = message.find(marker) if reason.get("policy_title") else -1
    forbids = message[: at + len(marker) + 1] if at >= 0 else ""
    out["message"] = " ".join(x for x in (forbids, found + "." if found else "") if x)
    out["advice"] = _without_quotes_of(reason.get("advice", ""), {w.casefold() for w in ad_words}, words)
    out["evidence"] = [{"field": f} for f in fields]
    return out


def _labels(fields: list[str], lang: str) -> list[str]:
    return list(dict.fromkeys(field_label(f, lang) for f in fields))


@cache
def _quoted(quote: str) -> re.Pattern:
    """What `quote` ("“{}”") marks as quoted."""
    opening, closing = quote.split("{}")
    return re.compile(re.escape(opening) + "(.+?)" + re.escape(closing))


def _without_quotes_of(text: str, ad_words: set[str], words: dict) -> str:
    """`text` without the sentences that quote one of `ad_words`."""
    quoted = _quoted(words["quote"])
    if not quoted.search(text):
        return text

    def quotes_the_ad(sentence: str) -> bool:
        return any(q.casefold() in ad_words for q in quoted.findall(sentence))

    return " ".join(s for s in _SENTENCES.split(text) if s and not quotes_the_ad(s))


def complete_purged(reason: dict, bundle: Bundle | None) -> dict:
    """A reason purged before purges kept message and advice, completed from the rule if it still exists."""
    if "message" in reason and "advice" in reason:
        return reason
    lang = reason.get("language") or FALLBACK
    words = phrases(lang)
    rule = find_rule(bundle, reason.get("policy"), reason.get("rule"))
    forbids = ""
    if rule is not None:
        forbids = _with_policy(localized(rule.message, lang), _policy_phrase(reason.get("policy_title", ""), words))
    found = _found_in(_labels([e["field"] for e in reason.get("evidence", [])], lang), words)
    return {
        **reason,
        "message": " ".join(x for x in (forbids, found + "." if found else "") if x),
        "advice": localized(rule.advice, lang) if rule is not None else "",
    }


# -- the ad's text with evidence marked in place ------------------------------------------
@dataclass(frozen=True, slots=True)
class Segment:
    """A run of one field's text; `marks` lists the reasons (1-based) whose evidence covers it."""

    text: str
    marks: tuple[int, ...] = ()


def segments(text: str, spans: list[tuple[int, int, int]]) -> list[Segment]:
    """Cut `text` at every span boundary; spans are (start, end, reason number).

    Overlapping spans of different reasons are fine: a run carries every
    reason that covers it. Out-of-range spans are clipped, empty ones ignored,
    and the runs always join back to `text`.
    """
    spans = [(max(0, s), min(len(text), e), n) for s, e, n in spans]
    spans = [(s, e, n) for s, e, n in spans if s < e]
    cuts = sorted({0, len(text), *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    out: list[Segment] = []
    for a, b in pairwise(cuts):
        marks = tuple(sorted({n for s, e, n in spans if s <= a and b <= e}))
        if out and out[-1].marks == marks:
            out[-1] = Segment(out[-1].text + text[a:b], marks)
        else:
            out.append(Segment(text[a:b], marks))
    return out
