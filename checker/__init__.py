"""Pangolin's checker: normalise, match, evaluate, explain, store.

A pure library: no web framework, no global state. `load_bundle` compiles a
policy directory once; `Checker(bundle).check(submission)` gives a verdict.
"""

from .bundle import Bundle, load_bundle
from .errors import CheckerError, InvalidSubmission, PolicyError, StoreUnavailable
from .evaluate import Checker, Verdict

__all__ = [
    "Bundle",
    "Checker",
    "CheckerError",
    "InvalidSubmission",
    "PolicyError",
    "StoreUnavailable",
    "Verdict",
    "load_bundle",
]
