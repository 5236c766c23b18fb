"""GET /review/stats: the statistics page for reviewers and policy authors.

Verdicts per day by decision, the rules that fire most, and how often
reviewers overturn verdicts and rules, as charts drawn on the server (inline
SVG, no scripts: the pages' CSP allows none). The figures and the chart
geometry come from checker.authoring; this view only picks the period and
renders. Needs a reviewer session, like the review queue.
"""

from __future__ import annotations

import sqlite3

from flask import Blueprint, request

from checker import authoring
from checker.errors import StoreUnavailable

from . import verdicts
from .errors import pages_blueprint
from .review import reviewer_page, staff
from .state import store

bp = pages_blueprint(Blueprint("stats", __name__))  # a page: its headers (no-store, CSP) and HTML errors

PERIODS = (7, 30, 90)  # days
DEFAULT_PERIOD = 30
# The stylesheet's decision colours (static/style.css): SVG fills are attributes, which the CSP allows.
COLOURS = {"approved": "#146c2e", "review": "#8a5300", "rejected": "#b3261e"}


@bp.get("/review/stats")
@reviewer_page
def stats_page():
    days = request.args.get("days", DEFAULT_PERIOD, type=int)
    if days not in PERIODS:
        days = DEFAULT_PERIOD
    try:
        data = authoring.stats(store(), days=days, exclude_advertisers=(verdicts.TRY_IT_ADVERTISER,))
    except sqlite3.Error as e:
        raise StoreUnavailable(str(e)) from e
    return staff(
        "stats.html",
        data=data,
        periods=PERIODS,
        colours=COLOURS,
        per_day=authoring.stacked_bars(data["per_day"]),
        top_rules=authoring.hbars(data["top_rules"], "hits", width=360),
        by_decision=authoring.hbars(data["overturn_by_decision"], "rate", width=360, scale_max=1),
        by_rule=authoring.hbars(data["overturn_by_rule"], "rate", width=360, scale_max=1),
    )
