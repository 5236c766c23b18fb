"""Every piece of evidence slices exactly what the advertiser wrote."""

from __future__ import annotations

import json

import pytest

from checker import pipeline
from tests.conftest import ROOT, dev_cases

OWN = [json.loads(line) for line in (ROOT / "tests" / "data" / "sample_ads.jsonl").read_text().splitlines() if line]
CASES = OWN + dev_cases()


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
