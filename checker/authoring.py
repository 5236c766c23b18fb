"""Tools for policy authors, built on the same API the service uses.

    validate()        the loader's problems, plus what a schema cannot see
    example_table()   every rule's examples, passed and failed
    read_items(), check_items()
                      many submissions through pipeline.run, optionally in worker processes
    replay()          re-run logged submissions against a candidate bundle: what would change
    coverage()        per rule and per term: hits in the log, reviews, overturns
    stats()           verdicts per day, the rules that fire most, overturn rates, chart geometry

Pure: no web framework. The CLI (web/cli_policies.py) and the stats page only
print and render what these functions return. Reading the verdict log is
read-only here; nothing in this module writes to it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from . import pipeline
from .bundle import Bundle, _fold_word, _Problems, example_results, example_submission, load_bundle
from .conditions import Context, compile_condition
from .errors import CheckerError, InvalidSubmission, PolicyError
from .evaluate import Checker
from .lexicon import term_kind
from .match import NEGATION_LIST
from .normalize import fold_term
from .roles import BENIGN, TRIGGER, walk
from .roles import list_roles as roles_of_lists
from .store import VerdictStore

ERROR, WARNING = "error", "warning"
# A term among a language's N most frequent words matches ads that use the
# word in its everyday sense. The loader refuses the top 100 of the term's own
# language; from there to here it is a warning, and so is the same word in
# another language's top N (the matcher does not know the ad's language).
VERY_COMMON = 1000
EXAMPLE_IDS = 5  # example decision ids per count in reports
DECISIONS = ("approved", "review", "rejected")


# -- validate -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Issue:
    """One finding of `validate`: `policies/<file>: $.path: message`."""

    severity: str  # "error" | "warning"
    code: str  # load, example, no-examples, untested-branch, overlap, duplicate-term, unused-list, common-word
    location: str  # "policies/x.json: $.rules[0]"; "" when the loader's message already carries it
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message

    def to_dict(self) -> dict:
        return {"severity": self.severity, "code": self.code, "text": str(self)}


@dataclass(slots=True)
class Validation:
    root: Path
    issues: list[Issue]
    bundle: Bundle | None  # None: the bundle does not compile

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == WARNING]

    def failed(self, strict: bool = False) -> bool:
        return bool(self.errors or (strict and self.warnings))


def validate(path: str | Path) -> Validation:
    """Everything the loader refuses (errors), then what only an author can judge (mostly warnings).

    The authoring checks need a compiled bundle; while the loader refuses the
    bundle, only its problems are reported.
    """
    root = Path(path)
    try:
        bundle = load_bundle(root, run_examples=False)
    except PolicyError as e:
        return Validation(root, [Issue(ERROR, "load", "", p) for p in e.problems], None)
    names = _Problems(root)
    checker = Checker(bundle)
    issues = [
        Issue(
            ERROR,
            "example",
            f"{names.name(r.rule.file)}: $.rules[{r.rule.index}].examples.{r.kind}[{r.index}]",
            r.problem,
        )
        for r in example_results(bundle, checker)
        if not r.passed
    ]
    terms = list(_raw_terms(bundle, names))
    roles = list_roles(bundle)
    issues += _example_gaps(bundle, checker, names)
    issues += _overlaps(terms, roles)
    issues += _duplicates(terms, roles)
    issues += _unused_lists(bundle, names, roles)
    issues += _common_words(bundle, terms)
    issues.sort(key=lambda i: i.severity != ERROR)  # stable: errors first, each check's order kept
    return Validation(root, issues, bundle)


@dataclass(frozen=True, slots=True)
class _RawTerm:
    """A term as the lexicon file writes it, with where it is."""

    file: str  # "policies/lexicons/animals.json"
    where: str  # "$.entries[3].terms.en[0]"
    lexicon: str
    concept: str
    entry: int
    lists: frozenset[str]  # declared lists plus the lexicon's own id
    lang: str | None  # None for emoji
    text: str
    key: str  # folded, as the matcher searches it
    allow_common: bool
    strict: bool

    @property
    def location(self) -> str:
        return f"{self.file}: {self.where}"

    @property
    def ident(self) -> str:
        """Which words the term finds: its folded key, or for a strict-accent term its own spelling."""
        return self.text.casefold() if self.strict else self.key


def _raw_terms(bundle: Bundle, names: _Problems) -> Iterator[_RawTerm]:
    for lex in bundle.lexicons:
        file = names.name(lex["_file"])
        lex_common = lex.get("allow_common", False)
        for i, e in enumerate(lex["entries"]):
            lists = frozenset(e.get("lists", [])) | {lex["lexicon"]}
            base = (lex["lexicon"], e["concept"], i, lists)
            for j, emoji in enumerate(e.get("emoji", [])):
                key = fold_term(emoji)
                if key:
                    yield _RawTerm(file, f"$.entries[{i}].emoji[{j}]", *base, None, emoji, key, True, False)
            for lang, items in e.get("terms", {}).items():
                for j, item in enumerate(items):
                    spec = {"text": item} if isinstance(item, str) else item
                    key = fold_term(spec["text"])
                    if key:
                        yield _RawTerm(
                            file,
                            f"$.entries[{i}].terms.{lang}[{j}]",
                            *base,
                            lang,
                            spec["text"],
                            key,
                            spec.get("allow_common", lex_common),
                            spec.get("accents") == "strict",
                        )


def list_roles(bundle: Bundle) -> dict[str, set[str]]:
    """For every term list a rule names: {"trigger"}, {"benign"} or both."""
    return roles_of_lists(rule.source["when"] for rule in bundle.rules)


def _overlaps(terms: list[_RawTerm], roles: dict[str, set[str]]) -> list[Issue]:
    trigger = {n for n, r in roles.items() if TRIGGER in r}
    benign = {n for n, r in roles.items() if BENIGN in r}
    by_key: dict[str, list[_RawTerm]] = defaultdict(list)
    for t in terms:
        by_key[t.key].append(t)
    issues = []
    for ts in by_key.values():
        benign_side = [t for t in ts if t.lists & benign]
        trigger_side = [t for t in ts if t.lists & trigger]
        for b in benign_side[:1]:
            b_lists = b.lists & benign
            others = [(t, t.lists & trigger - b_lists) for t in trigger_side]
            others = [(t, lists) for t, lists in others if lists]
            if not others:
                continue
            t, t_lists = others[0]
            where = "the same entry" if (t.file, t.entry) == (b.file, b.entry) else t.location
            issues.append(
                Issue(
                    WARNING,
                    "overlap",
                    b.location,
                    f"{b.text!r} is in benign list {_names(b_lists)} and in trigger list {_names(t_lists)} "
                    f"({where}): an ad that says it both makes a rule fire and cancels it",
                )
            )
    return issues


def _duplicates(terms: list[_RawTerm], roles: dict[str, set[str]]) -> list[Issue]:
    """The same term twice in an entry, or in two entries that share a list a rule
    (or the matcher, for negations) looks at: there a hit cannot tell them apart."""
    used = set(roles) | {NEGATION_LIST}
    issues = []
    seen_in_entry: dict[tuple, _RawTerm] = {}
    by_key: dict[str, list[_RawTerm]] = defaultdict(list)
    for t in terms:
        # A strict-accent term is its own spelling ("vẩy" and "vảy" are two words).
        k = (t.file, t.entry, t.lang, t.ident)
        first = seen_in_entry.get(k)
        if first is not None:
            same = "is listed twice" if first.text == t.text else f"folds to the same word as {first.text!r}"
            issues.append(Issue(WARNING, "duplicate-term", t.location, f"{t.text!r} {same} ({first.where})"))
            continue
        seen_in_entry[k] = t
        by_key[t.ident].append(t)
    for ts in by_key.values():
        for i, t in enumerate(ts):
            for earlier in ts[:i]:
                if (earlier.file, earlier.entry) == (t.file, t.entry):
                    continue
                shared = t.lists & earlier.lists & used
                if shared:
                    issues.append(
                        Issue(
                            WARNING,
                            "duplicate-term",
                            t.location,
                            f"{t.text!r} ({t.lang or 'emoji'}) is the same word to the matcher as {earlier.text!r} "
                            f"({earlier.lang or 'emoji'}) of concept {earlier.concept!r} ({earlier.location}), "
                            f"in the same list {_names(shared)}: a hit cannot tell them apart; keep one",
                        )
                    )
                    break
    return issues


def _unused_lists(bundle: Bundle, names: _Problems, roles: dict[str, set[str]]) -> list[Issue]:
    """Declared lists that no rule names. Shield lexicons work without rules, and
    the negation list is used by the matcher itself."""
    sizes = Counter(n for lex in bundle.lexicons for e in lex["entries"] for n in e.get("lists", []))
    issues, reported = [], set()
    for lex in bundle.lexicons:
        if lex.get("shield"):
            continue
        for i, e in enumerate(lex["entries"]):
            for j, name in enumerate(e.get("lists", [])):
                if name in roles or name == NEGATION_LIST or name in reported:
                    continue
                reported.add(name)
                n = sizes[name]
                issues.append(
                    Issue(
                        WARNING,
                        "unused-list",
                        f"{names.name(lex['_file'])}: $.entries[{i}].lists[{j}]",
                        f"list {name!r} ({n} entr{'y' if n == 1 else 'ies'}) is used by no rule",
                    )
                )
    return issues


def _example_gaps(bundle: Bundle, checker: Checker, names: _Problems) -> list[Issue]:
    """Rules without examples, `any` alternatives no match example proves, and
    `unless` exceptions no no_match example shows at work."""
    known = bundle.term_lists()
    issues = []
    for rule in bundle.rules:
        base = f"{names.name(rule.file)}: $.rules[{rule.index}]"
        examples = rule.examples or {}
        contexts: dict[str, list[Context]] = {}
        for kind in ("match", "no_match"):
            if not examples.get(kind):
                issues.append(
                    Issue(WARNING, "no-examples", f"{base}.examples", f"rule {rule.id!r} has no {kind} examples")
                )
            contexts[kind] = []
            for ex in examples.get(kind) or []:
                sub = example_submission(ex)
                if not bundle.submissions.problems(sub):
                    contexts[kind].append(Context(checker.check(sub).hits, sub))
        for node, path, benign, fields in walk(rule.source["when"], f"$.rules[{rule.index}].when"):
            if benign:
                continue
            if "any" in node and contexts["match"]:
                for j, alt in enumerate(node["any"]):
                    holds = compile_condition(alt, known)
                    if not any(holds(c.within(fields) if fields else c).matched for c in contexts["match"]):
                        issues.append(
                            Issue(
                                WARNING,
                                "untested-branch",
                                f"{names.name(rule.file)}: {path}.any[{j}]",
                                f"no match example of rule {rule.id!r} makes this alternative hold: add one that does",
                            )
                        )
            if "unless" in node and contexts["no_match"]:
                holds = compile_condition(node["unless"], known)
                if not any(holds(c).matched for c in contexts["no_match"]):
                    issues.append(
                        Issue(
                            WARNING,
                            "untested-branch",
                            f"{names.name(rule.file)}: {path}.unless",
                            f"no no_match example of rule {rule.id!r} shows this exception at work: add one",
                        )
                    )
    return issues


def common_word_ranks(bundle: Bundle, keys: set[str]) -> dict[str, dict[str, int]]:
    """{language: {folded word: rank}} for the given keys, from the languages' common-word files.

    `Language.common` is a set; the files are ordered, most frequent first,
    and folded the same way, so `rank <= 100` is exactly `Language.top`.
    """
    spec = json.loads((Path(bundle.path) / "languages.json").read_text(encoding="utf-8"))["languages"]
    out: dict[str, dict[str, int]] = {}
    for code, lang in bundle.languages.items():
        if not lang.common or "common_words" not in spec.get(code, {}):
            continue
        ranks: dict[str, int] = {}
        n = 0
        path = Path(bundle.path) / spec[code]["common_words"]
        for line in path.read_text(encoding="utf-8").splitlines():
            word = line.strip()
            if not word or word.startswith("#"):
                continue
            n += 1
            if n > VERY_COMMON:
                break
            folded = _fold_word(word)
            if folded in keys:
                ranks.setdefault(folded, n)
        out[code] = ranks
    return out


def _common_words(bundle: Bundle, terms: list[_RawTerm]) -> list[Issue]:
    candidates = [
        t
        for t in terms
        if t.lang is not None
        and not t.allow_common
        and not t.strict
        and term_kind(t.key) == "word"
        and " " not in t.key
    ]
    ranks = common_word_ranks(bundle, {t.key for t in candidates})
    # An entry that lists the same word in another language means that word there too.
    entry_words = {(t.file, t.entry, t.lang, t.key) for t in terms}
    issues = []
    for t in candidates:
        hits = []
        for code, table in ranks.items():
            rank = table.get(t.key)
            if rank is None or (code != t.lang and (t.file, t.entry, code, t.key) in entry_words):
                continue
            hits.append((code != t.lang, rank, code))
        if not hits:
            continue
        hits.sort()
        said = ", ".join(f"#{rank} in {code}" for _, rank, code in hits)
        issues.append(
            Issue(
                WARNING,
                "common-word",
                t.location,
                f"{t.text!r} is a very common word ({said}): ads that use it in its everyday sense will match; "
                'use a phrase, or mark it {"allow_common": true} if that is intended',
            )
        )
    return issues


def _names(lists: Iterable[str]) -> str:
    return ", ".join(repr(n) for n in sorted(lists))


# -- examples as a table ------------------------------------------------------------------
@dataclass(slots=True)
class RuleExamples:
    rule: str
    policy: str
    mode: str
    match: tuple[int, int]  # passed, total
    no_match: tuple[int, int]
    failures: list[str]  # `policies/<file>: $.path: message`

    @property
    def ok(self) -> bool:
        return not self.failures


def example_table(bundle: Bundle) -> list[RuleExamples]:
    """Every rule's examples run through the real checker, counted per rule."""
    names = _Problems(Path(bundle.path))
    rows: dict[str, RuleExamples] = {
        r.id: RuleExamples(r.id, r.policy, r.mode, (0, 0), (0, 0), []) for r in bundle.rules
    }
    for res in example_results(bundle, Checker(bundle)):
        row = rows[res.rule.id]
        passed, total = getattr(row, res.kind)
        setattr(row, res.kind, (passed + res.passed, total + 1))
        if not res.passed:
            row.failures.append(res.message(names))
    return list(rows.values())


def example_lines(rows: list[RuleExamples]) -> list[str]:
    """The example table as text: one line per rule, then every failure."""
    width = max([len(r.rule) for r in rows] + [4]) + 2
    pwidth = max([len(r.policy) for r in rows] + [6]) + 2
    out = [f"{'rule':<{width}}{'policy':<{pwidth}}{'mode':<9}{'match':>7}{'no_match':>10}  result"]
    for r in rows:
        match, no_match = f"{r.match[0]}/{r.match[1]}", f"{r.no_match[0]}/{r.no_match[1]}"
        out.append(
            f"{r.rule:<{width}}{r.policy:<{pwidth}}{r.mode:<9}{match:>7}{no_match:>10}  {'ok' if r.ok else 'FAIL'}"
        )
    failures = [f for r in rows for f in r.failures]
    if failures:
        out += ["", *failures]
    total = sum(r.match[1] + r.no_match[1] for r in rows)
    passed = sum(r.match[0] + r.no_match[0] for r in rows)
    failed_rules = sum(not r.ok for r in rows)
    tail = f" in {failed_rules} rule(s)" if failed_rules else ""
    out += ["", f"{len(rows)} rules, {total} examples: {passed} passed, {total - passed} failed{tail}."]
    return out


# -- checking many submissions --------------------------------------------------------------
@dataclass(slots=True)
class Item:
    """One submission to check, or why it could not be read."""

    number: int  # line number in the input (1 for a single JSON document)
    payload: object = None
    error: dict | None = None  # {"code", "message", "details"}: the API's error body


@dataclass(slots=True)
class Checked:
    number: int
    response: dict | None  # the API's answer
    row: dict | None  # what the verdict log would store
    error: dict | None = None

    def output(self) -> dict:
        """One line of `flask check`: the verdict, or the error with its line number."""
        return self.response if self.error is None else {"line": self.number, "error": self.error}


def error_body(code: str, message: str, details: list[dict] | None = None) -> dict:
    """The inside of the API's error answer: {"code", "message", "details"} (details always, maybe empty)."""
    return {"code": code, "message": message, "details": details or []}


def invalid_submission_body(e: InvalidSubmission) -> dict:
    n = len(e.details)
    return error_body("invalid_submission", f"The submission has {n} problem{'s' if n != 1 else ''}.", e.details)


def read_items(text: str, jsonl: bool | None = None) -> list[Item]:
    """One submission (a JSON document) or many (JSON Lines).

    A labelled case of the evaluation format ({"submission": {...}, "expected": ...})
    stands for its submission, so the dev set can be checked as it is.
    """
    if jsonl is None:
        try:
            return [Item(1, _unwrap(json.loads(text)))]
        except json.JSONDecodeError as e:
            first = next((line for line in text.splitlines() if line.strip()), "")
            try:
                json.loads(first)
                jsonl = True
            except json.JSONDecodeError:
                return [
                    Item(
                        1,
                        error=error_body(
                            "invalid_json", f"Not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})."
                        ),
                    )
                ]
    if not jsonl:
        return read_items(text, None)
    items = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(Item(n, _unwrap(json.loads(line))))
        except json.JSONDecodeError as e:
            items.append(Item(n, error=error_body("invalid_json", f"Not valid JSON: {e.msg} (column {e.colno}).")))
    return items


def _unwrap(value):
    if isinstance(value, dict) and isinstance(value.get("submission"), dict) and "advertiser_id" not in value:
        return value["submission"]
    return value


class _Runner:
    """Validate, check and answer one item: pipeline.run, the service's own path."""

    def __init__(self, bundle: Bundle):
        self.bundle = bundle
        self.checker = Checker(bundle)
        self.languages = pipeline.supported_languages(bundle)

    def __call__(self, item: Item) -> Checked:
        if item.error is not None:
            return Checked(item.number, None, None, item.error)
        try:
            sub = self.bundle.submissions.validate(item.payload)
        except InvalidSubmission as e:
            return Checked(item.number, None, None, invalid_submission_body(e))
        out = pipeline.run(self.bundle, self.checker, sub, self.languages)
        return Checked(item.number, out.response, out.row)


class PolicyChanged(CheckerError):
    """The policy files changed while a run was checking with them."""


_worker: _Runner | None = None
_worker_error: str | None = None


def _init_worker(path: str, version: str) -> None:
    # An exception here would make the pool start replacement workers forever;
    # keep it and raise it from the first task instead.
    global _worker, _worker_error
    try:
        bundle = load_bundle(path, run_examples=False)  # the parent ran them on this same version
        if bundle.version != version:
            raise PolicyChanged(f"the policies at {path} changed while checking; run again")
        _worker = _Runner(bundle)
    except CheckerError as e:
        _worker_error = str(e)


def _work(item: Item) -> Checked:
    if _worker is None:
        raise PolicyChanged(_worker_error or "the worker could not load the policies")
    return _worker(item)


def check_items(bundle: Bundle, items: list[Item], workers: int = 1) -> Iterator[Checked]:
    """Check `items` in order. With workers > 1, in that many processes, each
    loading the bundle once; the results still come back in input order."""
    if workers <= 1 or len(items) < 2:
        run = _Runner(bundle)
        for item in items:
            yield run(item)
        return
    workers = min(workers, len(items))
    chunk = max(1, min(64, len(items) // (workers * 4)))
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads or connections
    with ctx.Pool(
        workers, initializer=_init_worker, initargs=(str(Path(bundle.path).resolve()), bundle.version)
    ) as pool:
        yield from pool.imap(_work, items, chunksize=chunk)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# -- reading the log ----------------------------------------------------------------------------
def overturned(flagged: str, reviewed: str | None) -> bool:
    """Did a reviewer overturn `flagged` (a verdict's or a rule's decision)?

    A reviewer decides approved or rejected. A decision is overturned when the
    reviewer's differs from it, except that a `review` the reviewer rejected
    was upheld: sending it to a person was right. So for a rule (whose
    decision is reject or review) a hit is overturned exactly when the
    reviewer approved the ad.
    """
    if reviewed not in ("approved", "rejected"):
        return False
    if flagged == "review":
        return reviewed == "approved"
    return reviewed != flagged


_REVIEW_WORDS = {"approve": "approved", "reject": "rejected", "approved": "approved", "rejected": "rejected"}


def latest_reviews(store: VerdictStore) -> dict[str, str]:
    """{decision_id: the latest review's decision (approved | rejected)}."""
    rows = store.db.execute(
        "SELECT decision_id, decision FROM reviews WHERE id IN (SELECT max(id) FROM reviews GROUP BY decision_id)"
    ).fetchall()
    return {d: _REVIEW_WORDS[x] for d, x in rows if x in _REVIEW_WORDS}


_COLUMNS = "seq, decision_id, decision, reasons_json, shadow_json, trace_json, submission_json, policy_version, checked_at, purged_at"


def logged_rows(store: VerdictStore, since: str | None = None, limit: int | None = None) -> Iterator[dict]:
    """Verdict rows, oldest first: all of them, or those checked at or after
    `since`; with `limit`, the newest `limit` of those. Streamed, not loaded whole."""
    where, args = "", []
    if since:
        where, args = " WHERE checked_at >= ?", [since]
    if limit is None:
        yield from store.db.query(f"SELECT {_COLUMNS} FROM verdicts{where} ORDER BY seq", args)
        return
    rows = list(store.db.query(f"SELECT {_COLUMNS} FROM verdicts{where} ORDER BY seq DESC LIMIT ?", [*args, limit]))
    yield from reversed(rows)


def _loads(text: str | None, default):
    return json.loads(text) if text else default


# -- replay -----------------------------------------------------------------------------------
@dataclass(slots=True)
class _RuleDiff:
    rule: str
    policy: str
    mode: str
    before: int = 0
    after: int = 0
    gained: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    redecided: list[str] = field(default_factory=list)  # fired in both, with another decision


def replay(rows: Iterable[dict], bundle: Bundle, reviews: dict[str, str] | None = None, max_changes: int = 200) -> dict:
    """Re-run logged submissions through a candidate bundle and say what would change.

    Compares each re-run with the stored decision and the stored reasons (rule
    ids and their decisions; shadow rules apart), so a rule switched from
    review to reject shows up even where the verdict's decision stays. Writes nothing. Rows whose text was purged
    cannot be replayed and are counted as skipped.
    """
    checker = Checker(bundle)
    reviews = reviews or {}
    total = purged = 0
    versions: Counter[str] = Counter()
    matrix: dict[tuple[str, str], list] = {}
    diffs: dict[tuple[str, str], _RuleDiff] = {}
    changes: list[dict] = []
    changed = decision_changed = 0
    agreed_before = agreed_after = reviewed = 0

    for row in rows:
        total += 1
        if row["submission_json"] is None:
            purged += 1
            continue
        versions[row["policy_version"]] += 1
        did, old = row["decision_id"], row["decision"]
        submission = json.loads(row["submission_json"])
        old_reasons = {r["rule"]: r for r in _loads(row["reasons_json"], [])}
        old_shadow = {s["rule"]: s for s in _loads(row["shadow_json"], [])}
        if bundle.submissions.problems(submission):
            _count(matrix, (old, "invalid"), did)
            continue
        verdict = checker.check(submission)
        new = verdict.decision
        new_reasons = {f.rule.id: f for f in verdict.findings}
        new_shadow = {f.rule.id: f for f in verdict.shadow}
        _count(matrix, (old, new), did)
        for mode, before, after in (("enforce", old_reasons, new_reasons), ("shadow", old_shadow, new_shadow)):
            for rule_id in before.keys() | after.keys():
                policy = after[rule_id].policy if rule_id in after else before[rule_id]["policy"]
                d = diffs.setdefault((rule_id, mode), _RuleDiff(rule_id, policy, mode))
                d.before += rule_id in before
                d.after += rule_id in after
                if rule_id in after and rule_id not in before:
                    d.gained.append(did)
                elif rule_id in before and rule_id not in after:
                    d.lost.append(did)
                elif mode == "enforce" and before[rule_id]["decision"] != after[rule_id].decision:
                    d.redecided.append(did)
        review = reviews.get(did)
        if review:
            reviewed += 1
            agreed_before += not overturned(old, review)
            agreed_after += not overturned(new, review)
        redecided = [
            (rid, r, new_reasons[rid].decision)
            for rid, r in old_reasons.items()
            if rid in new_reasons and r["decision"] != new_reasons[rid].decision
        ]
        if new == old and new_reasons.keys() == old_reasons.keys() and not redecided:
            continue
        changed += 1
        decision_changed += new != old
        if len(changes) < max_changes:
            changes.append(
                {
                    "decision_id": did,
                    "checked_at": row["checked_at"],
                    "from": old,
                    "to": new,
                    "added": [
                        _reason_view(f.policy, rid, f.decision, [(e.field, e.text) for e in f.evidence])
                        for rid, f in new_reasons.items()
                        if rid not in old_reasons
                    ],
                    "removed": [
                        _reason_view(
                            r["policy"],
                            rid,
                            r["decision"],
                            [(e["field"], e.get("text")) for e in r.get("evidence", [])],
                        )
                        for rid, r in old_reasons.items()
                        if rid not in new_reasons
                    ],
                    "redecided": [
                        {"policy": r["policy"], "rule": rid, "from": r["decision"], "to": to}
                        for rid, r, to in redecided
                    ],
                    "review": review,
                }
            )

    transitions = [
        {"from": a, "to": b, "count": len(ids), "examples": ids[:EXAMPLE_IDS]}
        for (a, b), ids in sorted(matrix.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    rules = [
        {
            "rule": d.rule,
            "policy": d.policy,
            "mode": d.mode,
            "before": d.before,
            "after": d.after,
            "gained": len(d.gained),
            "lost": len(d.lost),
            "redecided": len(d.redecided),
            "gained_examples": d.gained[:EXAMPLE_IDS],
            "lost_examples": d.lost[:EXAMPLE_IDS],
            "redecided_examples": d.redecided[:EXAMPLE_IDS],
        }
        for d in sorted(
            diffs.values(), key=lambda d: (-(len(d.gained) + len(d.lost) + len(d.redecided)), d.rule, d.mode)
        )
        if d.gained or d.lost or d.redecided
    ]
    replayed = sum(len(ids) for ids in matrix.values())
    invalid = sum(t["count"] for t in transitions if t["to"] == "invalid")
    return {
        "candidate": {"path": str(bundle.path), "version": bundle.version},
        "rows": total,
        "replayed": replayed,
        "skipped_purged": purged,
        "invalid": invalid,
        "logged_versions": dict(versions.most_common()),
        "unchanged": replayed - changed - invalid,
        "changed": changed,
        "decision_changed": decision_changed,
        "reasons_only_changed": changed - decision_changed,
        "transitions": [t for t in transitions if t["from"] != t["to"]],
        "matrix": {f"{t['from']}→{t['to']}": t["count"] for t in transitions},
        "rules": rules,
        "changes": changes,
        "changes_omitted": changed - len(changes),
        "reviews": {"reviewed": reviewed, "agreed_logged": agreed_before, "agreed_candidate": agreed_after},
    }


def _count(matrix: dict, key: tuple[str, str], decision_id: str) -> None:
    matrix.setdefault(key, []).append(decision_id)


def _reason_view(policy: str, rule: str, decision: str, evidence: list[tuple[str, str | None]]) -> dict:
    return {
        "policy": policy,
        "rule": rule,
        "decision": decision,
        "evidence": [{"field": f, "text": t} for f, t in evidence[:4]],
    }


def replay_lines(report: dict, max_listed: int = 20) -> list[str]:
    """The replay report as text for a terminal."""
    c = report["candidate"]
    out = [
        f"Replayed {report['replayed']} of {report['rows']} logged verdicts against {c['path']} ({_short(c['version'])}).",
    ]
    if report["logged_versions"]:
        logged = ", ".join(f"{_short(v)} ({n})" for v, n in report["logged_versions"].items())
        out.append(f"Logged under {logged}.")
    out.append(
        f"Skipped {report['skipped_purged']} purged row(s) (their text is gone); "
        f"{report['invalid']} no longer valid submission(s) under the candidate."
    )
    out.append(
        f"Unchanged {report['unchanged']}; changed {report['changed']} "
        f"({report['decision_changed']} decision(s), {report['reasons_only_changed']} reasons only)."
    )
    if report["transitions"]:
        out += ["", "Decisions"]
        for t in report["transitions"]:
            out.append(f"  {t['from']:>8} → {t['to']:<8} {t['count']:>5}   {', '.join(t['examples'])}")
    if report["rules"]:
        width = max(len(r["rule"]) for r in report["rules"]) + 2
        out += [
            "",
            "Rules",
            f"  {'rule':<{width}}{'mode':<9}{'before':>7}{'after':>7}{'gained':>8}{'lost':>6}{'re-decided':>12}",
        ]
        for r in report["rules"]:
            out.append(
                f"  {r['rule']:<{width}}{r['mode']:<9}{r['before']:>7}{r['after']:>7}{'+' + str(r['gained']):>8}"
                f"{'-' + str(r['lost']):>6}{r['redecided']:>12}"
            )
            for key, label in (("gained", "gained:    "), ("lost", "lost:      "), ("redecided", "re-decided:")):
                if r[f"{key}_examples"]:
                    out.append(f"      {label} {', '.join(r[key + '_examples'])}")
    rv = report["reviews"]
    if rv["reviewed"]:
        out += [
            "",
            f"Reviewed verdicts: {rv['reviewed']}; the reviewer agreed with the logged decision in "
            f"{rv['agreed_logged']}, would agree with the candidate's in {rv['agreed_candidate']}.",
        ]
    if report["changes"]:
        out += ["", "Changed verdicts"]
        for ch in report["changes"][:max_listed]:
            review = f"  (reviewer: {ch['review']})" if ch["review"] else ""
            out.append(f"  {ch['decision_id']}  {ch['from']} → {ch['to']}{review}")
            for sign, key in (("+", "added"), ("-", "removed")):
                for r in ch[key]:
                    out.append(f"      {sign} {r['policy']}/{r['rule']} ({r['decision']}){_evidence_text(r)}")
            for r in ch["redecided"]:
                out.append(f"      ~ {r['policy']}/{r['rule']} ({r['from']} → {r['to']})")
        more = report["changed"] - min(len(report["changes"]), max_listed)
        if more:
            out.append(f"  … and {more} more (--json or --html for all)")
    return out


def _evidence_text(reason: dict) -> str:
    quoted = [f"“{e['text']}” in {e['field']}" for e in reason["evidence"] if e.get("text")]
    return ": " + ", ".join(quoted) if quoted else ""


def _short(version: str) -> str:
    return version[:19] + "…" if len(version) > 20 else version


# -- coverage -----------------------------------------------------------------------------------
def coverage(rows: Iterable[dict], bundle: Bundle, reviews: dict[str, str] | None = None) -> dict:
    """Per rule and per term: verdicts it fired on, how many a person reviewed,
    how many they overturned; and the rules and terms of `bundle` that never fired.

    A hit is overturned when the verdict's latest review approved the ad (see
    `overturned`). Terms come from the evidence in the trace; purged rows have
    none and count for rules only.
    """
    reviews = reviews or {}
    current = {r.id: r for r in bundle.rules}
    rules: dict[str, dict] = {}
    terms: dict[tuple, dict] = {}
    total = purged = reviewed_rows = 0
    for row in rows:
        total += 1
        review = reviews.get(row["decision_id"])
        reviewed_rows += review is not None
        seen: dict[str, str] = {}  # rule -> mode, once per verdict
        for mode, items in (("enforce", _loads(row["reasons_json"], [])), ("shadow", _loads(row["shadow_json"], []))):
            for r in items:
                if r["rule"] in seen:
                    continue
                seen[r["rule"]] = mode
                s = rules.setdefault(r["rule"], _rule_counts(r["rule"], r["policy"], current))
                s["hits" if mode == "enforce" else "shadow_hits"] += 1
                if review:
                    s["reviewed"] += 1
                    s["overturned"] += overturned(r["decision"], review)
        if row["trace_json"] is None:
            purged += row["purged_at"] is not None
            continue
        evidence = [(e["rule"], e["evidence"]) for e in _loads(row["trace_json"], {}).get("evidence", [])]
        evidence += [(s["rule"], s.get("evidence", [])) for s in _loads(row["shadow_json"], [])]
        keys: dict[tuple, set[str]] = defaultdict(set)
        for rule_id, items in evidence:
            for e in items:
                if "concept" in e:
                    keys[(e.get("lexicon"), e["concept"], e.get("term"))].add(rule_id)
        for key, rule_ids in keys.items():
            s = terms.setdefault(key, {"hits": 0, "reviewed": 0, "overturned": 0, "rules": set()})
            s["hits"] += 1
            s["rules"] |= rule_ids
            if review:
                s["reviewed"] += 1
                s["overturned"] += review == "approved"
    for s in list(rules.values()) + list(terms.values()):
        s["rate"] = round(s["overturned"] / s["reviewed"], 4) if s["reviewed"] else None
    trigger = {n for n, r in list_roles(bundle).items() if TRIGGER in r}
    known_terms = _trigger_terms(bundle, trigger)
    return {
        "rows": total,
        "reviewed": reviewed_rows,
        "purged": purged,
        "rules": sorted(rules.values(), key=lambda s: (-(s["hits"] + s["shadow_hits"]), s["rule"])),
        "rules_never_fired": [
            {"rule": r.id, "policy": r.policy, "mode": r.mode} for r in bundle.rules if r.id not in rules
        ],
        "terms": [
            {
                "lexicon": k[0],
                "concept": k[1],
                "term": k[2],
                **{**s, "rules": sorted(s["rules"])},
            }
            for k, s in sorted(terms.items(), key=lambda kv: (-kv[1]["hits"], str(kv[0])))
        ],
        "terms_never_fired": [{"lexicon": k[0], "concept": k[1], "term": k[2]} for k in known_terms if k not in terms],
    }


def _rule_counts(rule_id: str, policy: str, current: dict) -> dict:
    rule = current.get(rule_id)
    return {
        "rule": rule_id,
        "policy": policy,
        "mode": rule.mode if rule else None,  # None: no longer in the bundle
        "hits": 0,
        "shadow_hits": 0,
        "reviewed": 0,
        "overturned": 0,
    }


def _trigger_terms(bundle: Bundle, trigger: set[str]) -> list[tuple]:
    """(lexicon, concept, term text) of every term and pattern that can make a rule fire."""
    out = []
    for lex in bundle.lexicons:
        for e in lex["entries"]:
            if not (set(e.get("lists", [])) | {lex["lexicon"]}) & trigger:
                continue
            for emoji in e.get("emoji", []):
                out.append((lex["lexicon"], e["concept"], emoji))
            for items in e.get("terms", {}).values():
                for item in items:
                    out.append((lex["lexicon"], e["concept"], item if isinstance(item, str) else item["text"]))
            if e.get("patterns"):
                out.append((lex["lexicon"], e["concept"], None))
    return list(dict.fromkeys(out))


def coverage_lines(cov: dict, all_terms: bool = False, top: int = 30) -> list[str]:
    """The coverage report as text for a terminal."""
    out = [
        f"Coverage over {cov['rows']} logged verdicts ({cov['reviewed']} reviewed; "
        f"{cov['purged']} purged, counted for rules but not terms).",
        "A hit is overturned when a reviewer approved the ad the rule flagged.",
        "",
    ]
    width = max([len(r["rule"]) for r in cov["rules"]] + [len(r["rule"]) for r in cov["rules_never_fired"]] + [4]) + 2
    out.append(f"{'rule':<{width}}{'mode':<9}{'hits':>6}{'shadow':>8}{'reviewed':>10}{'overturned':>12}{'rate':>7}")
    for r in cov["rules"]:
        out.append(
            f"{r['rule']:<{width}}{r['mode'] or '(gone)':<9}{r['hits']:>6}{r['shadow_hits']:>8}{r['reviewed']:>10}"
            f"{r['overturned']:>12}{_pct(r['rate']):>7}"
        )
    never = cov["rules_never_fired"]
    out.append(f"Rules that never fired: {', '.join(r['rule'] for r in never) if never else 'none'}")
    out.append("")
    labels = [(_term_label(t), t) for t in cov["terms"]]
    shown = labels if all_terms else labels[:top]
    width = max([len(lbl) for lbl, _ in shown] + [4]) + 2
    out.append(f"{'term':<{width}}{'hits':>6}{'reviewed':>10}{'overturned':>12}{'rate':>7}  rules")
    for lbl, t in shown:
        out.append(
            f"{lbl:<{width}}{t['hits']:>6}{t['reviewed']:>10}{t['overturned']:>12}{_pct(t['rate']):>7}  "
            f"{', '.join(t['rules'])}"
        )
    if len(labels) > len(shown):
        out.append(f"… and {len(labels) - len(shown)} more terms (--all)")
    never_terms = cov["terms_never_fired"]
    out.append(f"Terms that never fired: {len(never_terms)}")
    for t in never_terms if all_terms else never_terms[:top]:
        out.append(f"  {_term_label(t)}")
    if not all_terms and len(never_terms) > top:
        out.append(f"  … and {len(never_terms) - top} more (--all)")
    return out


def _term_label(t: dict) -> str:
    what = f"“{t['term']}”" if t["term"] is not None else "(pattern)"
    return f"{t['lexicon']}/{t['concept']} {what}"


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.0f}%"


# -- statistics for the stats page -----------------------------------------------------------------
def stats(
    store: VerdictStore,
    days: int = 30,
    top: int = 10,
    today: date | None = None,
    exclude_advertisers: tuple[str, ...] = (),
) -> dict:
    """Verdicts per day by decision (the last `days` days), the rules that fire
    most in that window, and how often reviewers overturn verdicts and rules.
    Verdicts of `exclude_advertisers` (staff trying rules out) do not count."""
    today = today or datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    since, before = first.isoformat(), (today + timedelta(days=1)).isoformat()
    # A JSON array parameter keeps the SQL fixed whatever the number excluded.
    excluded = json.dumps(list(exclude_advertisers))
    not_excluded = "advertiser_id NOT IN (SELECT value FROM json_each(?))"
    counts: dict[str, Counter] = defaultdict(Counter)
    for day, decision, n in store.db.execute(
        "SELECT substr(checked_at, 1, 10), decision, count(*) FROM verdicts "
        f"WHERE checked_at >= ? AND checked_at < ? AND {not_excluded} GROUP BY 1, 2",
        [since, before, excluded],
    ):
        counts[day][decision] += n
    per_day = [
        {"day": d.isoformat(), **{k: counts[d.isoformat()][k] for k in DECISIONS}}
        for d in (first + timedelta(days=i) for i in range(days))
    ]
    fired = store.db.execute(
        "SELECT json_extract(j.value, '$.rule'), json_extract(j.value, '$.policy'), count(DISTINCT v.seq) "
        "FROM verdicts v, json_each(v.reasons_json) j WHERE v.checked_at >= ? AND v.checked_at < ? "
        f"AND v.{not_excluded} GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT ?",
        [since, before, excluded, top],
    ).fetchall()
    top_rules = [{"rule": r, "policy": p, "hits": n} for r, p, n in fired]

    by_decision: dict[str, Counter] = {k: Counter() for k in DECISIONS}
    rule_reviews: dict[str, Counter] = defaultdict(Counter)
    for decision, reasons, reviewed in store.db.execute(
        "SELECT v.decision, v.reasons_json, r.decision FROM verdicts v JOIN reviews r ON r.decision_id = v.decision_id "
        "WHERE r.id IN (SELECT max(id) FROM reviews GROUP BY decision_id) AND v.checked_at >= ? AND v.checked_at < ? "
        f"AND v.{not_excluded}",
        [since, before, excluded],
    ):
        rev = _REVIEW_WORDS.get(reviewed)
        if rev is None or decision not in by_decision:
            continue
        by_decision[decision]["reviewed"] += 1
        by_decision[decision]["overturned"] += overturned(decision, rev)
        for r in {r["rule"]: r for r in _loads(reasons, [])}.values():
            rule_reviews[r["rule"]]["reviewed"] += 1
            rule_reviews[r["rule"]]["overturned"] += overturned(r["decision"], rev)
    overturn_by_decision = [{"label": k, **_rate(by_decision[k])} for k in DECISIONS if by_decision[k]["reviewed"]]
    overturn_by_rule = sorted(
        ({"label": rule, **_rate(c)} for rule, c in rule_reviews.items()),
        key=lambda x: (-x["rate"], -x["reviewed"], x["label"]),
    )[:top]
    total = sum(sum(d[k] for k in DECISIONS) for d in per_day)
    return {
        "days": days,
        "since": since,
        "until": today.isoformat(),
        "total": total,
        "per_day": per_day,
        "top_rules": top_rules,
        "reviewed": sum(c["reviewed"] for c in by_decision.values()),
        "overturned": sum(c["overturned"] for c in by_decision.values()),
        "overturn_by_decision": overturn_by_decision,
        "overturn_by_rule": overturn_by_rule,
    }


def _rate(c: Counter) -> dict:
    return {"reviewed": c["reviewed"], "overturned": c["overturned"], "rate": c["overturned"] / c["reviewed"]}


# Chart geometry: the template only draws what these compute.
def stacked_bars(per_day: list[dict], width: int = 720, height: int = 200, keys: tuple[str, ...] = DECISIONS) -> dict:
    """Bars per day, stacked by decision, in a width × height plot area (y grows downwards)."""
    peak = max([sum(d[k] for k in keys) for d in per_day] + [0])
    scale_max = _nice(peak)
    slot = width / max(len(per_day), 1)
    bars = []
    for i, d in enumerate(per_day):
        y = float(height)
        segments = []
        for k in keys:
            h = height * d[k] / scale_max if scale_max else 0.0
            y -= h
            if d[k]:
                segments.append({"key": k, "count": d[k], "y": round(y, 2), "h": round(h, 2)})
        bars.append(
            {
                "day": d["day"],
                "x": round(i * slot + slot * 0.1, 2),
                "w": round(slot * 0.8, 2),
                "total": sum(d[k] for k in keys),
                "segments": segments,
                "label": i % max(1, len(per_day) // 6) == 0 or i == len(per_day) - 1,
            }
        )
    ticks = (
        [{"value": v, "y": round(height - height * v / scale_max, 2)} for v in _ticks(scale_max)] if scale_max else []
    )
    return {"width": width, "height": height, "max": scale_max, "bars": bars, "ticks": ticks}


def hbars(items: list[dict], value: str, width: int = 400, scale_max: float | None = None) -> list[dict]:
    """Horizontal bar lengths for `items[value]`, the longest filling `width`."""
    peak = scale_max if scale_max is not None else max([i[value] for i in items] + [0])
    return [{**i, "len": round(width * i[value] / peak, 2) if peak else 0.0} for i in items]


def _nice(n: float) -> float:
    """The smallest of 1, 2, 3, 5 × 10^k at or above n (0 for 0)."""
    if n <= 0:
        return 0
    step = 1
    while True:
        for m in (1, 2, 3, 5):
            if m * step >= n:
                return m * step
        step *= 10


def _ticks(top: float) -> list[int]:
    """Gridlines at round values: 0–5 by ones, 10 by twos, 20 by fives, 30 by tens, 50 by tens..."""
    if top <= 5:
        return list(range(int(top) + 1))
    parts = {1: 5, 2: 4, 3: 3, 5: 5}[int(str(int(top))[0])]
    return [int(top * i / parts) for i in range(parts + 1)]
