"""The words of the advertiser-facing pages (verdict page, policy centre,
errors) in every language the pages speak. Reasons come from
checker/explain.py; these are the words around them. A test checks that
every language has every key.

Reviewer pages (queue, trace, login, Try it) are English only: they are
internal tools for policy staff.
"""

from __future__ import annotations

FALLBACK = "en"

LANGUAGE_NAMES = {"en": "English", "sv": "Svenska"}

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "site": "Pangolin ad policies",
        "skip": "Skip to content",
        "nav_policies": "Policies",
        "language": "Language",
        "footer": "Pangolin checks ads against the policies on protected animals and live animal sales.",
        # the verdict page
        "verdict_title": "Your ad: {decision}",
        "verdict_h1": "The check of your ad",
        "summary_rejected": "Your ad can't run as it is. Below is what to change.",
        "summary_review": "A person will look at your ad before it can run.",
        "summary_approved": "Your ad may run.",
        "changed_after_review": "A person reviewed the ad and changed the decision.",
        "kept_after_review": "A person reviewed the ad and kept the decision.",
        "checked_at": "Checked",
        "reference": "Reference",
        "your_ref": "Your reference",
        "reasons_h": "What to change",
        "reasons_found_h": "What the automatic check found",
        "reason_n": "Reason {n}",
        "policy": "Policy",
        "where": "Where",
        "what_to_do": "What to do",
        "read_policy": "Read the policy: {title}",
        "ad_h": "Your ad",
        "ad_intro": "Highlighted text is what the rules found; the number says which reason it belongs to.",
        "ad_gone": "The ad's text is no longer kept, so it can't be shown.",
        "field_headline": "Headline",
        "field_body": "Body text",
        "field_keywords": "Keywords",
        "field_landing_url": "Landing page address",
        "field_on_screen_text": "On-screen text",
        "field_transcript": "Spoken words",
        "reasons_other_language": "These reasons are shown in the language they were written in.",
        # history and appeals
        "history_h": "History",
        "ev_checked": "Checked automatically: {decision}",
        "ev_appeal": "You appealed",
        "ev_review": "A person reviewed the ad: {decision}",
        "appeal_h": "Appeal",
        "appeal_intro": "If you think the decision is wrong, tell us why. A person will read your appeal and decide.",
        "appeal_label": "Why should the decision change?",
        "appeal_hint": "Up to 2,000 characters. Say what the ad is really about, for example what the item is made of.",
        "appeal_send": "Send appeal",
        "appeal_sent": "Thank you. Your appeal was sent and a person will review it.",
        "appeal_waiting": "Your appeal of {date} is waiting for a person.",
        "appeal_none_needed": "An approved ad has nothing to appeal.",
        "appeal_problem": "Please fix this: {problem}",
        "appeal_blank": "Write why the decision should change.",
        "appeal_too_long": "Keep the appeal to 2,000 characters.",
        "appeal_bad_characters": "The appeal contains characters we cannot store. Type it again without them.",
        # the policy centre
        "policies_title": "Ad policies",
        "policies_intro": "What ads may not do, what is fine, and what a person looks at.",
        "forbidden_h": "Not allowed",
        "allowed_h": "Allowed",
        "review_h": "Sent to a person",
        "rules_h": "Rules",
        "examples_h": "Examples, checked by the service",
        "examples_rejected": "Rejected",
        "examples_review": "Sent to a person",
        "examples_approved": "Approved",
        "all_policies": "All policies",
        # errors
        "error_title": "Something went wrong",
        "error_404": "Page not found",
        "error_404_text": "The address may be mistyped, or the link may have expired. Ask for a new link.",
        "error_403": "Not allowed",
        "error_text": "Please try again later.",
    },
    "sv": {
        "site": "Pangolins annonspolicyer",
        "skip": "Hoppa till innehållet",
        "nav_policies": "Policyer",
        "language": "Språk",
        "footer": "Pangolin granskar annonser mot policyerna om skyddade djur och försäljning av levande djur.",
        "verdict_title": "Din annons: {decision}",
        "verdict_h1": "Granskningen av din annons",
        "summary_rejected": "Din annons kan inte visas som den är. Nedan står vad du behöver ändra.",
        "summary_review": "En person granskar din annons innan den kan visas.",
        "summary_approved": "Din annons får visas.",
        "changed_after_review": "En person har granskat annonsen och ändrat beslutet.",
        "kept_after_review": "En person har granskat annonsen och står fast vid beslutet.",
        "checked_at": "Granskad",
        "reference": "Referens",
        "your_ref": "Er referens",
        "reasons_h": "Vad du behöver ändra",
        "reasons_found_h": "Vad den automatiska granskningen hittade",
        "reason_n": "Skäl {n}",
        "policy": "Policy",
        "where": "Var",
        "what_to_do": "Så gör du",
        "read_policy": "Läs policyn: {title}",
        "ad_h": "Din annons",
        "ad_intro": "Markerad text är det som reglerna hittade; siffran visar vilket skäl den hör till.",
        "ad_gone": "Annonsens text sparas inte längre och kan inte visas.",
        "field_headline": "Rubrik",
        "field_body": "Brödtext",
        "field_keywords": "Sökord",
        "field_landing_url": "Länkadress",
        "field_on_screen_text": "Text i bild",
        "field_transcript": "Det som sägs",
        "reasons_other_language": "Skälen visas på det språk de skrevs på.",
        "history_h": "Historik",
        "ev_checked": "Automatisk granskning: {decision}",
        "ev_appeal": "Du överklagade",
        "ev_review": "En person granskade annonsen: {decision}",
        "appeal_h": "Överklaga",
        "appeal_intro": "Om du tycker att beslutet är fel, berätta varför. En person läser din överklagan och beslutar.",
        "appeal_label": "Varför ska beslutet ändras?",
        "appeal_hint": "Högst 2 000 tecken. Berätta vad annonsen egentligen handlar om, till exempel vad föremålet är gjort av.",
        "appeal_send": "Skicka överklagan",
        "appeal_sent": "Tack. Din överklagan är skickad och en person kommer att granska den.",
        "appeal_waiting": "Din överklagan från {date} väntar på en person.",
        "appeal_none_needed": "En godkänd annons behöver inte överklagas.",
        "appeal_problem": "Rätta detta: {problem}",
        "appeal_blank": "Skriv varför beslutet ska ändras.",
        "appeal_too_long": "Överklagan får vara högst 2 000 tecken.",
        "appeal_bad_characters": "Överklagan innehåller tecken som vi inte kan spara. Skriv den igen utan dem.",
        "policies_title": "Annonspolicyer",
        "policies_intro": "Vad annonser inte får göra, vad som går bra och vad en person granskar.",
        "forbidden_h": "Inte tillåtet",
        "allowed_h": "Tillåtet",
        "review_h": "Granskas av en person",
        "rules_h": "Regler",
        "examples_h": "Exempel, granskade av tjänsten",
        "examples_rejected": "Avvisas",
        "examples_review": "Granskas av en person",
        "examples_approved": "Godkänns",
        "all_policies": "Alla policyer",
        "error_title": "Något gick fel",
        "error_404": "Sidan finns inte",
        "error_404_text": "Adressen kan vara felskriven eller länken för gammal. Be om en ny länk.",
        "error_403": "Inte tillåtet",
        "error_text": "Försök igen senare.",
    },
}


def t(lang: str, key: str, **values) -> str:
    text = TEXT.get(lang, TEXT[FALLBACK]).get(key) or TEXT[FALLBACK][key]
    return text.format(**values) if values else text


def field_title(lang: str, field: str) -> str:
    """A field's name as a heading or label ("keywords[3]" is Keywords): the one place pages name fields."""
    return t(lang, f"field_{field.split('[')[0]}")
