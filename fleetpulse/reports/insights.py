"""The overview: the overall Endpoint analytics score, its sub-scores, the insights, the history.

Sub-scores come from the same figures as their own reports (fleetpulse/reports/facts.py); the
overall score, the insights and their points from processors/insights (overall.py, rules.py);
``history`` is the recorded daily scores of the last ``history_days`` (13 months) up to the
range's end (fleetpulse/reports/history.py; empty until ``fleetpulse scores record`` ran).
"""

from __future__ import annotations

from collections.abc import Sequence

from fleetpulse.reports.facts import fleet_facts
from fleetpulse.reports.history import devices_behind, fetch_history
from fleetpulse.reports.params import Filters
from fleetpulse.reports.startup import Row
from processors import scores
from processors.insights.config import DEFAULT_INSIGHTS, InsightsConfig
from processors.insights.insight import Insight
from processors.insights.overall import FleetFacts, overall, sub_scores
from processors.insights.rules import evaluate
from sinks.reader import Reader


def insight_row(i: Insight, limit: int) -> Row:
    return {
        "id": i.id,
        "score": i.score,
        "title": i.title,
        "recommendation": i.recommendation,
        "devices": len(i.device_ids),
        "device_ids": list(i.device_ids[:limit]),
        "models": [{"model": m, "devices": n} for m, n in i.models[:limit]],
        "score_before": i.before,
        "score_after": i.after,
        "points": i.points,
        "overall_points": i.overall_points,
        "informational": i.informational,
        "evidence": dict(i.evidence),
    }


def shape_insights(
    flt: Filters,
    facts: FleetFacts,
    history: Sequence[Row],
    cfg: InsightsConfig,
    score_cfg: scores.ScoreConfig = scores.DEFAULT_SCORES,
) -> Row:
    sub = sub_scores(facts, cfg, score_cfg)
    found = evaluate(facts, cfg, score_cfg)
    return {
        "report": "insights",
        "filters": flt.describe(),
        "overall_score": overall(sub, cfg.overall),
        "scores": sub,
        "weights": cfg.overall.weights(),
        "devices": devices_behind(facts),
        "insights_total": len(found),
        "insights": [insight_row(i, flt.limit) for i in found[: flt.limit]],
        "history": list(history),
    }


def insights_report(reader: Reader, flt: Filters, cfg: InsightsConfig = DEFAULT_INSIGHTS) -> Row:
    facts = fleet_facts(reader, flt, cfg)
    return shape_insights(flt, facts, fetch_history(reader, flt, cfg.history_days), cfg)
