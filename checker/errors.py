"""Domain exceptions. The web layer and the CLI translate them in one place each."""

from __future__ import annotations


class CheckerError(Exception):
    """Base class for errors the checker reports to its callers."""


class PolicyError(CheckerError):
    """The policy bundle is broken; `problems` lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the policy bundle:\n" + "\n".join(problems))


class InvalidSubmission(CheckerError):
    """The submission does not follow the contract; `details` names each field."""

    def __init__(self, details: list[dict]):
        self.details = details
        super().__init__("; ".join(f"{d['field']}: {d['problem']}" for d in details))


class StoreUnavailable(CheckerError):
    """The verdict log could not be written or read."""


class NotFound(CheckerError):
    """No such verdict (or not one this caller may see)."""
