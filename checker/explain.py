"""Turn findings into reasons an advertiser can read and act on.

A reason names the policy, says what it forbids, which field held the
problem, quotes the fragment (unless the rule withholds it), says what to
change and links to the policy page, in the advertiser's language with
English as the fallback. It is built from the finding alone: nothing here
searches the text again.
"""

from __future__ import annotations

from .bundle import Bundle
from .evaluate import Finding

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
        "quote": "“{}”",
        "read_more": "Read the policy",
        "decision": {"rejected": "Rejected", "review": "In review", "approved": "Approved"},
    },
    "sv": {
        "found_in": "Hittat i {fields}",
        "and": "och",
        "quote": "”{}”",
        "read_more": "Läs policyn",
        "decision": {"rejected": "Avvisad", "review": "Granskas", "approved": "Godkänd"},
    },
    "de": {
        "found_in": "Gefunden im Feld {fields}",
        "and": "und",
        "quote": "„{}“",
        "read_more": "Richtlinie lesen",
        "decision": {"rejected": "Abgelehnt", "review": "In Prüfung", "approved": "Freigegeben"},
    },
}


def pick_language(wanted: str | None, available) -> str:
    """The primary subtag of `wanted` if we have it, else English."""
    if wanted:
        primary = wanted.split("-")[0].split("_")[0].lower()
        if primary in available:
            return primary
    return FALLBACK


def localized(texts: dict[str, str], lang: str) -> str:
    return texts.get(lang) or texts[FALLBACK]


def field_label(field: str, lang: str) -> str:
    base = field.split("[")[0]
    names = FIELD_NAMES.get(lang, FIELD_NAMES[FALLBACK])
    return names.get(base, base)


def reason(finding: Finding, bundle: Bundle, lang: str) -> dict:
    """One reason, as answered to the ad-submission flow and stored."""
    rule = finding.rule
    policy = bundle.policy(finding.policy)
    phrases = PHRASES.get(lang, PHRASES[FALLBACK])
    fields: list[str] = []
    quotes: list[str] = []
    for ev in finding.evidence:
        label = field_label(ev.field, lang)
        if label not in fields:
            fields.append(label)
        if ev.disclosed and ev.text not in quotes:
            quotes.append(ev.text)
    found = phrases["found_in"].format(fields=_join(fields, phrases["and"]))
    if quotes:
        found += ": " + ", ".join(phrases["quote"].format(q) for q in quotes[:4])
    message = f"{localized(rule.message, lang)} {found}."
    return {
        "policy": finding.policy,
        "policy_title": localized(policy.title, lang) if policy else finding.policy,
        "rule": rule.id,
        "decision": finding.decision,
        "title": localized(rule.title, lang),
        "message": message,
        "advice": localized(rule.advice, lang),
        "language": lang,
        "help_url": f"/policies/{finding.policy}",
        "evidence": [e.public() for e in finding.evidence],
    }


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
