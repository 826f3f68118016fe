"""Insights and recommendations: every rule, run in one place, best first.

An insight names the devices (and models) concerned and the **points** it would add: its
sub-score re-computed with the cause removed minus the sub-score now, and ``overall_points`` the
same for the overall score (the other sub-scores unchanged). Rules and what "removed" means:
processors/insights/rules_startup.py and rules_fleet.py (docs/analytics.md §14). Insights adding
fewer than ``min_points`` are left out; informational ones (0 points, e.g. Fast Startup) are
listed after the others.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from processors import scores
from processors.insights import rules_fleet, rules_startup, wfa
from processors.insights.config import InsightsConfig
from processors.insights.insight import Context, Insight
from processors.insights.overall import FleetFacts, sub_scores

Rule = Callable[[Context], list[Insight | None]]

RULES: tuple[tuple[str, Rule], ...] = (
    ("hdd_to_ssd", rules_startup.hdd_to_ssd),
    ("group_policy_signin", partial(rules_startup.group_policy, metric="gp_logon_ms")),
    ("group_policy_boot", partial(rules_startup.group_policy, metric="gp_boot_ms")),
    ("startup_processes", rules_startup.startup_process_insights),
    ("fast_startup_off", rules_startup.fast_startup_off),
    ("app_versions", rules_fleet.app_versions),
    *((metric, partial(rules_fleet.wfa_metric, metric=metric)) for metric in wfa.METRICS),
    ("battery_replacement", rules_fleet.battery_replacement),
    ("starved_models", rules_fleet.starved_models),
)


def evaluate(
    facts: FleetFacts, cfg: InsightsConfig, score_cfg: scores.ScoreConfig = scores.DEFAULT_SCORES
) -> list[Insight]:
    """Every insight for the fleet: most overall points first, informational last."""
    ctx = Context(facts, cfg, score_cfg, sub_scores(facts, cfg, score_cfg))
    found = [i for _, rule in RULES for i in rule(ctx) if i is not None]
    found.sort(key=lambda i: (i.informational, -i.overall_points, -i.points, -len(i.device_ids), i.id))
    return found
