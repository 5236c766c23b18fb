"""Every piece of evidence slices exactly what the advertiser wrote."""

from __future__ import annotations

import json

import pytest

from checker import pipeline
from tests.conftest import ROOT, dev_cases


def _jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# Our own ads, the shared dev set when it is there, and our labelled sets in eval/.
OWN = _jsonl(ROOT / "tests" / "data" / "sample_ads.jsonl")
CASES = OWN + dev_cases() + [case for path in sorted((ROOT / "eval").glob("*.jsonl")) for case in _jsonl(path)]


def _value(sub: dict, field: str) -> str:
    name, _, index = field.partition("[")
    value = sub[name]
    return value[int(index.rstrip("]"))] if index else value


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_evidence_slices_the_original(default_bundle, default_checker, case):
    sub = default_bundle.submissions.validate(case["submission"])
    out = pipeline.run(default_bundle, default_checker, sub)
    for reason in out.response["reasons"]:
        assert reason["evidence"], reason
        for ev in reason["evidence"]:
            assert _value(sub, ev["field"])[ev["start"] : ev["end"]] == ev["text"]
            assert ev["text"].strip()
