"""One insight, and the context every insight rule is computed in (the facts and scores now)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from processors import scores
from processors.insights.config import InsightsConfig
from processors.insights.overall import FleetFacts, overall

Evidence = Mapping[str, float | str | None]


@dataclass(frozen=True)
class Insight:
    """A recommendation: the devices it concerns and the points it would add."""

    id: str
    score: str  # the sub-score it raises
    title: str
    recommendation: str
    device_ids: tuple[str, ...]
    models: tuple[tuple[str, int], ...]  # (model, devices concerned), most first
    before: float | None
    after: float | None
    points: float  # after - before
    overall_points: float  # the overall score with `after` in place of `before`, minus the overall now
    evidence: Evidence = field(default_factory=dict)
    informational: bool = False  # moves no score (points 0); the evidence says what it gains


@dataclass(frozen=True)
class Finding:
    """What a rule found: the devices and the sub-score re-computed with the cause removed."""

    id: str
    score: str
    title: str
    recommendation: str
    devices: Iterable[str]
    after: float | None
    evidence: Evidence = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    facts: FleetFacts
    cfg: InsightsConfig
    score_cfg: scores.ScoreConfig
    base: Mapping[str, float | None]  # the sub-scores now

    def models(self, ids: Sequence[str]) -> tuple[tuple[str, int], ...]:
        model = self.facts.startup.model
        counts = Counter(model.get(d, "(unknown)") for d in ids)
        return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def insight(self, f: Finding) -> Insight | None:
        """The finding as an insight; ``None`` when its score has no value or it adds too few points."""
        before = self.base[f.score]
        if before is None or f.after is None or f.after - before < self.cfg.rules.min_points:
            return None
        ids = tuple(sorted(set(f.devices)))
        gained = overall({**self.base, f.score: f.after}, self.cfg.overall)
        now = overall(self.base, self.cfg.overall)
        return Insight(
            id=f.id,
            score=f.score,
            title=f.title,
            recommendation=f.recommendation,
            device_ids=ids,
            models=self.models(ids),
            before=before,
            after=f.after,
            points=f.after - before,
            overall_points=(gained or 0.0) - (now or 0.0),
            evidence=f.evidence,
        )

    def informational(self, f: Finding) -> Insight:
        """A finding that moves no score (points 0), kept for what its evidence says it saves."""
        ids = tuple(sorted(set(f.devices)))
        now = self.base[f.score]
        return Insight(
            f.id, f.score, f.title, f.recommendation, ids, self.models(ids), now, now, 0.0, 0.0,
            f.evidence, informational=True,
        )  # fmt: skip
