"""Load, validate and compile a policy bundle: the policies/ directory.

Everything is checked before anything is used, and every problem is
reported at once as `policies/<file>: $.json.path: message`. A bundle with
any problem does not load: the service never runs on half a policy.

Layout:
    schema/*.schema.json     the contracts (submission, policy, lexicon, languages)
    languages.json           inflection endings, compounding, common-word files
    common-words/<lang>.txt  frequent words, one a line
    lexicons/*.json          vocabulary: entries, terms, lists
    *.json                   policies, one a file, named by id
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from .conditions import ConditionError, Evaluator, compile_condition
from .errors import PolicyError
from .lexicon import Language, Pattern, Term, compile_terms, doubles_form
from .match import Matcher
from .normalize import _FAST_TABLE, _NOT_FAST, fold_term
from .roles import trigger_lists
from .submission import SubmissionValidator

SCHEMAS = ("submission", "policy", "lexicon", "languages")
TOO_COMMON = 100  # a term among a language's N most common words matches almost every ad


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    policy: str
    decision: str  # "reject" | "review"
    mode: str  # "enforce" | "shadow"
    disclose: bool
    title: dict[str, str]
    message: dict[str, str]
    advice: dict[str, str]
    tips: tuple[dict, ...]
    when: Evaluator
    examples: dict
    source: dict  # the rule's JSON, for tools and the review trace
    file: str
    index: int


@dataclass(frozen=True, slots=True)
class Policy:
    id: str
    title: dict[str, str]
    description: dict[str, str]
    help: dict[str, dict]
    rules: tuple[Rule, ...]
    file: str


@dataclass(slots=True)
class Bundle:
    path: Path
    version: str
    policies: tuple[Policy, ...]
    lexicons: list[dict]
    languages: dict[str, Language]
    matcher: Matcher
    submissions: SubmissionValidator
    schemas: dict[str, dict]
    files: list[str]
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    @property
    def rules(self) -> list[Rule]:
        return [r for p in self.policies for r in p.rules]

    def policy(self, policy_id: str) -> Policy | None:
        return next((p for p in self.policies if p.id == policy_id), None)

    def term_lists(self) -> set[str]:
        return {name for lex in self.lexicons for e in lex["entries"] for name in e.get("lists", [])} | {
            lex["lexicon"] for lex in self.lexicons
        }


class _Problems:
    def __init__(self, root: Path):
        self.root = root
        self.items: list[str] = []

    def add(self, file: Path | str, where: str, message: str) -> None:
        name = self.name(file)
        self.items.append(f"{name}: {where}: {message}" if where else f"{name}: {message}")

    def name(self, file: Path | str) -> str:
        p = Path(file)
        try:
            return f"{self.root.name}/{p.relative_to(self.root).as_posix()}"
        except ValueError:
            return str(file)


_CACHE: dict[tuple[str, str, bool], Bundle] = {}


def load_bundle(path: str | Path, *, run_examples: bool = True) -> Bundle:
    """Load the bundle at `path`, or raise PolicyError listing every problem.

    A bundle whose files have not changed is not compiled again: the
    compiled form is shared (it is never modified after loading).
    """
    root = Path(path)
    if not root.is_dir():
        raise PolicyError([f"{root}: not a directory"])
    files = _bundle_files(root)
    key = (str(root.resolve()), _version(root, files), run_examples)
    cached = _CACHE.get(key)
    if cached is None:
        cached = _load(root, run_examples)
        if len(_CACHE) >= 8:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = cached
    return cached


def _load(root: Path, run_examples: bool) -> Bundle:
    from .evaluate import Checker  # the examples run through the real checker

    problems = _Problems(root)

    schemas = _load_schemas(root, problems)
    if len(schemas) != len(SCHEMAS):
        raise PolicyError(problems.items)

    languages_file = root / "languages.json"
    languages_data = _load_json(languages_file, problems)
    _validate(languages_data, schemas["languages"], languages_file, problems)
    lexicon_files = sorted((root / "lexicons").glob("*.json"))
    if not lexicon_files:
        problems.add(root / "lexicons", "", "no lexicon files")
    lexicons = []
    for f in lexicon_files:
        data = _load_json(f, problems)
        if _validate(data, schemas["lexicon"], f, problems):
            if data["lexicon"] != f.stem:
                problems.add(f, "$.lexicon", f"must equal the file name {f.stem!r}")
            data["_file"] = str(f)
            lexicons.append(data)
    policy_files = sorted(p for p in root.glob("*.json") if p.name != "languages.json")
    if not policy_files:
        problems.add(root, "", "no policy files")
    raw_policies = []
    for f in policy_files:
        data = _load_json(f, problems)
        if _validate(data, schemas["policy"], f, problems):
            if data["id"] != f.stem:
                problems.add(f, "$.id", f"must equal the file name {f.stem!r}")
            raw_policies.append((f, data))
    if problems.items:
        raise PolicyError(problems.items)

    languages = _languages(root, languages_data, languages_file, problems)
    _check_lexicons(lexicons, languages, problems)
    if problems.items:
        raise PolicyError(problems.items)
    terms, patterns = compile_terms(lexicons, languages)
    _check_terms(terms, languages, {lex["lexicon"]: lex["_file"] for lex in lexicons}, problems)
    _check_patterns(patterns, lexicons, problems)
    known_lists = {n for lex in lexicons for e in lex["entries"] for n in e.get("lists", [])} | {
        lex["lexicon"] for lex in lexicons
    }
    policies = _compile_policies(raw_policies, known_lists, problems)
    if problems.items:
        raise PolicyError(problems.items)

    files = _bundle_files(root)
    bundle = Bundle(
        path=root,
        version=_version(root, files),
        policies=tuple(policies),
        lexicons=lexicons,
        languages=languages,
        matcher=Matcher(
            terms, patterns, languages, trigger_lists(r["when"] for _, data in raw_policies for r in data["rules"])
        ),
        submissions=SubmissionValidator(schemas["submission"]),
        schemas=schemas,
        files=files,
    )
    if run_examples:
        for failure in run_rule_examples(bundle, Checker(bundle)):
            problems.items.append(failure.message(problems))
        if problems.items:
            raise PolicyError(problems.items)
    return bundle


# -- reading -------------------------------------------------------------------
def _load_json(path: Path, problems: _Problems):
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        problems.add(path, "", f"cannot read: {e.strerror}")
        return None
    except UnicodeDecodeError as e:
        problems.add(path, "", f"not UTF-8 (byte {e.start})")
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        problems.add(path, f"line {e.lineno}, column {e.colno}", f"JSON syntax error: {e.msg}")
        return None


def _load_schemas(root: Path, problems: _Problems) -> dict[str, dict]:
    schemas = {}
    for name in SCHEMAS:
        f = root / "schema" / f"{name}.schema.json"
        if not f.exists():
            problems.add(f, "", "missing")
            continue
        data = _load_json(f, problems)
        if data is None:
            continue
        try:
            Draft202012Validator.check_schema(data)
        except SchemaError as e:
            problems.add(f, e.json_path, f"not a valid JSON Schema: {e.message}")
            continue
        schemas[name] = data
    return schemas


def _validate(data, schema: dict, path: Path, problems: _Problems) -> bool:
    if data is None:
        return False
    if _fast_validator(schema).is_valid(data):
        return True  # the usual case, checked in Rust; the slow path explains failures
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    for err in errors:
        problems.add(path, err.json_path, _schema_message(err))
    return not errors


_FAST: dict[int, object] = {}


def _fast_validator(schema: dict):
    """jsonschema-rs validates the megabytes of lexicon data in milliseconds."""
    key = id(schema)
    if key not in _FAST:
        _FAST[key] = jsonschema_rs.validator_for(schema)
    return _FAST[key]


def _schema_message(err) -> str:
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return f"unknown key(s) {', '.join(map(repr, extra))}"
    if err.validator in ("anyOf", "oneOf") and err.context:
        # Say what the closest alternative wanted, not "valid under none".
        best = min(err.context, key=lambda e: len(list(e.absolute_path)) * -1)
        return best.message
    return err.message


def _languages(root: Path, data: dict, file: Path, problems: _Problems) -> dict[str, Language]:
    out = {}
    for code, spec in data["languages"].items():
        common: list[str] = []
        doubled: set[str] = set()
        if "common_words" in spec:
            wf = root / spec["common_words"]
            try:
                words = [w.strip() for w in wf.read_text(encoding="utf-8").splitlines()]
                words = [w for w in words if w and not w.startswith("#")]
                common, doubled = _fold_words(words)
            except OSError as e:
                problems.add(
                    file, f"$.languages.{code}.common_words", f"cannot read {spec['common_words']}: {e.strerror}"
                )
        out[code] = Language(
            code=code,
            suffixes=frozenset(fold_term(s) for s in spec.get("suffixes", [])),
            stem_suffixes=frozenset(fold_term(s) for s in spec.get("stem_suffixes", [])),
            compounds=spec.get("compounds", False),
            common=frozenset(common),
            top=frozenset(common[:TOO_COMMON]),
            doubled=frozenset(doubled),
        )
    return out


_SQUEEZE = re.compile(r"([^\W\d_])\1+")
_DOUBLE = re.compile(r"([^\W\d_])\1")


def _fold_words(words: list[str]) -> tuple[list[str], set[str]]:
    """Fold tens of thousands of plain words at once (in their order); also
    their doubled-letter forms."""
    plain = [i for i, w in enumerate(words) if _NOT_FAST.search(w) is None]
    # NUL is no character of a word and the table leaves it alone: a safe joint.
    joined = "\0".join(words[i] for i in plain).translate(_FAST_TABLE)
    kept = joined.split("\0") if plain else []
    # A letter run never crosses a NUL, so one pass squeezes every word.
    squeezed = _SQUEEZE.sub(r"\1", joined).split("\0") if plain else []
    folded = [""] * len(words)
    doubled: set[str] = set()
    for i, k, sq in zip(plain, kept, squeezed, strict=True):
        folded[i] = sq if " " not in sq else " ".join(sq.split())
        if sq != k:  # squeezing changed it: it has doubled letters
            doubled.add(k.replace(" ", ""))
    for i, w in enumerate(words):
        if not folded[i]:
            folded[i] = fold_term(w)
            if _DOUBLE.search(w):
                doubled.add(doubles_form(w).replace(" ", ""))
    return folded, doubled


def _fold_word(word: str) -> str:
    """fold_term for plain words, fast enough for tens of thousands of them."""
    if _NOT_FAST.search(word) is None:
        return _SQUEEZE.sub(r"\1", word.translate(_FAST_TABLE)).strip()
    return fold_term(word)


# -- cross-file checks ----------------------------------------------------------
def _check_lexicons(lexicons: list[dict], languages: dict[str, Language], problems: _Problems) -> None:
    seen_concepts: dict[tuple[str, str], int] = {}
    for lex in lexicons:
        f = lex["_file"]
        for i, entry in enumerate(lex["entries"]):
            key = (lex["lexicon"], entry["concept"])
            if key in seen_concepts:
                problems.add(
                    f,
                    f"$.entries[{i}].concept",
                    f"duplicate concept {entry['concept']!r} (also entries[{seen_concepts[key]}])",
                )
            seen_concepts[key] = i
            for lang in entry.get("terms", {}):
                if lang not in languages:
                    problems.add(f, f"$.entries[{i}].terms.{lang}", f"language {lang!r} is not in languages.json")


def _check_terms(terms: list[Term], languages: dict[str, Language], files: dict[str, str], problems: _Problems) -> None:
    for t in terms:
        if t.joined or t.stem or t.allow_common or t.strict_accents or t.doubles:
            continue  # matched only as written: no collision with the frequent word
        file = files.get(t.entry.lexicon, t.entry.lexicon)
        where = f"entry {t.entry.concept!r}, term {t.text!r}"
        lang = languages.get(t.lang or "")
        if t.kind != "emoji" and len(t.key.replace(" ", "")) < 2:
            problems.add(file, where, "a one-character term would match almost every ad")
        elif lang is not None and t.key in lang.top:
            problems.add(
                file, where, f"is among the {TOO_COMMON} most common {t.lang} words: it would match almost every ad"
            )


# Texts no sane pattern should match everywhere; and inputs that make a
# backtracking pattern explode.
_NEUTRAL = [
    "the weather is lovely today",
    "vi ses i morgon",
    "guten tag",
    "bonjour a tous",
    "hola amigos",
    "selamat pagi",
]
_HOSTILE = ["a" * 3000 + "!", "a1 " * 1000 + "!", "1" * 3000 + "x", "ab" * 1500 + "!"]


def _check_patterns(patterns: list[Pattern], lexicons: list[dict], problems: _Problems) -> None:
    files = {lex["lexicon"]: lex["_file"] for lex in lexicons}
    for p in patterns:
        file = files.get(p.entry.lexicon, p.entry.lexicon)
        where = f"entry {p.entry.concept!r}, pattern {p.source!r}"
        if p.regex is None:
            problems.add(file, where, f"not a valid regular expression: {p.error}")
            continue
        literal = re.sub(r"\\.|\[[^\]]*\]|\{[^}]*\}", "", p.source)
        doubled = re.search(r"([a-z])\1", literal)
        if doubled:
            problems.add(
                file,
                where,
                f"folded text never has a doubled letter ({doubled.group()!r}): write it once, as the matcher sees it",
            )
            continue
        try:
            if p.regex.match("") is not None or p.regex.search(" ") is not None:
                problems.add(file, where, "matches empty text: it would match every ad")
                continue
            for text in _HOSTILE:
                p.regex.search(text, timeout=0.05)
            if all(p.regex.search(t, timeout=0.05) for t in _NEUTRAL):
                problems.add(file, where, "matches every neutral sample sentence: it would match every ad")
                continue
        except TimeoutError:
            problems.add(file, where, "takes too long on long input (catastrophic backtracking); simplify it")


def _compile_policies(raw: list[tuple[Path, dict]], known_lists: set[str], problems: _Problems) -> list[Policy]:
    policies = []
    seen_rules: dict[str, str] = {}
    for f, data in raw:
        rules = []
        for i, r in enumerate(data["rules"]):
            where = f"$.rules[{i}]"
            if r["id"] in seen_rules:
                problems.add(f, f"{where}.id", f"duplicate rule id {r['id']!r} (also in {seen_rules[r['id']]})")
            seen_rules[r["id"]] = problems.name(f)
            try:
                when = compile_condition(r["when"], known_lists, f"{where}.when")
            except ConditionError as e:
                problems.add(f, "", str(e))
                continue
            rules.append(
                Rule(
                    id=r["id"],
                    policy=data["id"],
                    decision=r["decision"],
                    mode=r.get("mode", "enforce"),
                    disclose=r.get("disclose", True),
                    title=r["title"],
                    message=r["message"],
                    advice=r["advice"],
                    tips=tuple(r.get("tips", ())),
                    when=when,
                    examples=r["examples"],
                    source=r,
                    file=str(f),
                    index=i,
                )
            )
        policies.append(Policy(data["id"], data["title"], data["description"], data["help"], tuple(rules), str(f)))
    ids = [p.id for p in policies]
    for pid in {x for x in ids if ids.count(x) > 1}:
        problems.add(pid, "$.id", "duplicate policy id")
    return policies


# -- examples -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ExampleResult:
    rule: Rule
    kind: str  # "match" | "no_match"
    index: int
    passed: bool
    problem: str = ""

    def message(self, problems: _Problems) -> str:
        where = f"$.rules[{self.rule.index}].examples.{self.kind}[{self.index}]"
        return f"{problems.name(self.rule.file)}: {where}: {self.problem}"


def example_submission(example: str | dict) -> dict:
    if isinstance(example, str):
        return {"advertiser_id": "policy-example", "body": example}
    return {"advertiser_id": "policy-example", **example}


def run_rule_examples(bundle: Bundle, checker) -> list[ExampleResult]:
    """Run every rule's examples; return the failures."""
    return [r for r in example_results(bundle, checker) if not r.passed]


def example_results(bundle: Bundle, checker) -> list[ExampleResult]:
    results = []
    for rule in bundle.rules:
        for kind in ("match", "no_match"):
            for i, example in enumerate(rule.examples[kind]):
                sub = example_submission(example)
                invalid = bundle.submissions.problems(sub)
                if invalid:
                    first = invalid[0]
                    results.append(
                        ExampleResult(
                            rule, kind, i, False, f"not a valid submission: {first['field']}: {first['problem']}"
                        )
                    )
                    continue
                fired = checker.fired_rules(sub)
                hit = rule.id in fired
                if kind == "match" and not hit:
                    results.append(
                        ExampleResult(rule, kind, i, False, f"should make rule {rule.id!r} fire, but it does not")
                    )
                elif kind == "no_match" and hit:
                    results.append(
                        ExampleResult(rule, kind, i, False, f"should not make rule {rule.id!r} fire, but it does")
                    )
                else:
                    results.append(ExampleResult(rule, kind, i, True))
    return results


# -- version ------------------------------------------------------------------
def _bundle_files(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix in (".json", ".txt") and not any(part.startswith(".") for part in p.parts)
    )


def _version(root: Path, files: list[str]) -> str:
    h = hashlib.sha256()
    for name in files:
        h.update(name.encode())
        h.update(b"\0")
        h.update((root / name).read_bytes())
        h.update(b"\0")
    return "sha256:" + h.hexdigest()
