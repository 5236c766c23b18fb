"""Fixtures: an app on a fresh log, a client, a CLI runner, and a factory for
small policy bundles written to a temporary directory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app import create_app
from checker.bundle import load_bundle
from checker.evaluate import Checker
from web.state import close_stores

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
DEV_SET = ROOT.parent / "shared" / "eval" / "dev.jsonl"


@pytest.fixture
def app(tmp_path):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "verdicts.db"), "AUTH_DISABLED": True})
    yield app
    close_stores()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def default_bundle():
    return load_bundle(POLICIES)


@pytest.fixture(scope="session")
def default_checker(default_bundle):
    return Checker(default_bundle)


class BundleMaker:
    """Write a bundle from dicts: the real schemas and languages, your lexicons and policies."""

    def __init__(self, root: Path):
        self.root = root

    def __call__(self, lexicons: dict[str, dict] | None = None, policies: dict[str, dict] | None = None) -> Path:
        d = self.root / "policies"
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree(POLICIES / "schema", d / "schema")
        shutil.copytree(POLICIES / "common-words", d / "common-words")
        shutil.copy(POLICIES / "languages.json", d / "languages.json")
        (d / "lexicons").mkdir()
        for name, data in (lexicons or TINY_LEXICONS).items():
            (d / "lexicons" / f"{name}.json").write_text(json.dumps(data, ensure_ascii=False, indent=1))
        for name, data in (policies or {"tiny": tiny_policy()}).items():
            (d / f"{name}.json").write_text(json.dumps(data, ensure_ascii=False, indent=1))
        return d


@pytest.fixture
def make_bundle(tmp_path):
    return BundleMaker(tmp_path)


TINY_LEXICONS = {
    "things": {
        "lexicon": "things",
        "description": "Test vocabulary.",
        "entries": [
            {"concept": "ivory", "lists": ["ivory"], "terms": {"en": ["ivory"], "sv": ["elfenben"]}},
            {"concept": "tiger", "lists": ["animal"], "emoji": ["🐯"], "terms": {"en": ["tiger"], "sv": ["tiger"]}},
            {"concept": "claw", "lists": ["part"], "terms": {"en": ["claw"], "sv": ["klo"]}},
            {"concept": "faux", "lists": ["benign"], "terms": {"en": ["faux", "resin"]}},
            {"concept": "sale", "lists": ["sale"], "terms": {"en": ["for sale"]}, "patterns": ["[$€£]\\d+"]},
        ],
    },
    "names": {
        "lexicon": "names",
        "description": "Shields.",
        "shield": True,
        "entries": [{"concept": "ivory-coast", "terms": {"en": ["Ivory Coast"]}}],
    },
    "negations": {
        "lexicon": "negations",
        "description": "Negations.",
        "allow_common": True,
        "entries": [{"concept": "not", "lists": ["negation"], "terms": {"en": ["not", "no"]}}],
    },
}


def tiny_rule(rule_id: str = "ivory", when: dict | None = None, match=None, no_match=None, **extra) -> dict:
    return {
        "id": rule_id,
        "decision": "reject",
        "title": {"en": "Ivory", "sv": "Elfenben"},
        "message": {"en": "No ivory.", "sv": "Inget elfenben."},
        "advice": {"en": "Remove it.", "sv": "Ta bort det."},
        "when": when or {"unless": {"terms": ["benign"]}, "within": 2, "match": {"terms": ["ivory"]}},
        "examples": {"match": match or ["Old ivory carving"], "no_match": no_match or ["Faux ivory chess set"]},
        **extra,
    }


def tiny_policy(rules: list[dict] | None = None, policy_id: str = "tiny") -> dict:
    return {
        "id": policy_id,
        "title": {"en": "Tiny", "sv": "Liten"},
        "description": {"en": "A test policy.", "sv": "En testpolicy."},
        "help": {
            "en": {"forbidden": ["Ivory"], "allowed": ["Faux"]},
            "sv": {"forbidden": ["Elfenben"], "allowed": ["Imitation"]},
        },
        "rules": rules or [tiny_rule()],
    }


def dev_cases() -> list[dict]:
    if not DEV_SET.exists():
        return []
    return [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
