"""Validate an ad submission against the contract and say, per field, what is wrong."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from .document import TEXT_FIELDS
from .errors import InvalidSubmission

_TEXT_LIST = ", ".join(TEXT_FIELDS)
MAX_DETAILS = 100  # problems listed in one answer; the rest are counted


class SubmissionValidator:
    def __init__(self, schema: dict):
        self.schema = schema
        self._validator = Draft202012Validator(schema)
        self._props = schema.get("properties", {})

    def problems(self, data: Any) -> list[dict]:
        """Every problem, as {"field": "$.headline", "problem": "..."}, in field order."""
        if not isinstance(data, dict):
            return [{"field": "$", "problem": "must be a JSON object"}]
        details = []
        # An over-long array is one problem, not one per item: check a trimmed
        # copy, so 60,000 bad country codes cost no more than 249.
        trimmed = dict(data)
        for name, spec in self._props.items():
            limit = spec.get("maxItems")
            value = data.get(name)
            if limit is not None and isinstance(value, list) and len(value) > limit:
                details.append({"field": f"$.{name}", "problem": f"must have at most {limit} items (got {len(value)})"})
                trimmed[name] = value[:limit]
        unknown = [k for k in trimmed if k not in self._props]
        if len(unknown) > MAX_DETAILS:
            details.append({"field": "$", "problem": f"has {len(unknown)} unknown fields"})
            for k in unknown[MAX_DETAILS:]:
                del trimmed[k]
        for err in self._validator.iter_errors(trimmed):
            details.extend(self._explain(err))
            if len(details) > MAX_DETAILS:
                break
        details.extend(unsafe_strings(trimmed))
        seen = set()
        unique = []
        for d in details:
            key = (d["field"], d["problem"])
            if key not in seen:
                seen.add(key)
                unique.append(d)
        order = {f"$.{name}": i for i, name in enumerate(self._props)}
        unique.sort(key=lambda d: (order.get(d["field"].split("[")[0], 99), d["field"]))
        if len(unique) > MAX_DETAILS:
            extra = len(unique) - MAX_DETAILS
            unique = [*unique[:MAX_DETAILS], {"field": "$", "problem": f"and {extra} more problem(s)"}]
        return unique

    def validate(self, data: Any) -> dict:
        problems = self.problems(data)
        if problems:
            raise InvalidSubmission(problems)
        return data

    def _explain(self, err) -> list[dict]:
        path = err.json_path
        v = err.validator
        if v == "additionalProperties":
            extra = sorted(set(err.instance) - set(self._props))
            return [{"field": f"$.{k}", "problem": "is not a known field"} for k in extra]
        if v == "required":
            missing = [k for k in err.validator_value if k not in err.instance]
            return [{"field": f"$.{k}", "problem": "is required"} for k in missing]
        if v == "anyOf" and path == "$":
            return [{"field": "$", "problem": f"at least one of {_TEXT_LIST} must be present and not blank"}]
        return [{"field": path, "problem": _problem(err)}]


def _problem(err) -> str:
    v, value = err.validator, err.validator_value
    if v == "type":
        names = {"string": "a string", "array": "an array", "object": "an object", "integer": "an integer"}
        return f"must be {names.get(value, value)}"
    if v == "maxLength":
        return f"must be at most {value} characters (got {len(err.instance)})"
    if v == "minLength":
        return f"must be at least {value} character{'s' if value != 1 else ''}"
    if v == "maxItems":
        return f"must have at most {value} items (got {len(err.instance)})"
    if v == "uniqueItems":
        return "must not repeat an item"
    if v == "enum":
        return (
            f"{err.instance!r} is not an ISO 3166-1 alpha-2 country code"
            if _is_country(err)
            else (f"must be one of {', '.join(map(str, value))}")
        )
    if v == "pattern":
        return _pattern_problem(err)
    return err.message


def _is_country(err) -> bool:
    return "target_countries" in err.json_path


def _pattern_problem(err) -> str:
    field = err.json_path
    if field == "$.advertiser_id":
        return "may contain only letters, digits and . _ : -"
    if field == "$.landing_url":
        return "must be an http or https URL"
    if field == "$.language":
        return f"{err.instance!r} is not a BCP 47 language tag (such as en, sv or pt-BR)"
    return f"does not match {err.validator_value}"


def unsafe_text(path: str, value: str) -> list[dict]:
    """Characters JSON allows but a text store must not take: NUL, lone surrogates."""
    out = []
    if "\x00" in value:
        out.append({"field": path, "problem": "must not contain NUL characters"})
    if any("\ud800" <= c <= "\udfff" for c in value):
        out.append({"field": path, "problem": "contains an unpaired UTF-16 surrogate"})
    return out


def unsafe_strings(data: dict) -> list[dict]:
    """unsafe_text for every string of a submission, lists included."""
    out = []

    def look(path: str, value: Any) -> None:
        if isinstance(value, str):
            out.extend(unsafe_text(path, value))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                look(f"{path}[{i}]", item)

    for key, value in data.items():
        look(f"$.{key}", value)
    return out
