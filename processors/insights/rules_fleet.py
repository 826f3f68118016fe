"""Insight rules on app reliability, work from anywhere, battery health and resource performance.

Each re-computes its sub-score with the cause removed (docs/analytics.md §14):

* ``app_version:<app>@<version>`` (app reliability): a version with at least
  ``app_version_min_crashes`` crashes and ``app_version_min_usage_hours`` of use whose crash
  rate is above the app's other versions' (pooled, with that much use too) by the one-sided
  conditional binomial test of two Poisson rates at ``app_version_alpha`` (processors/regression.py),
  with an MTTF below 1 / ``app_version_mttf_ratio`` of theirs: the version then crashes at their
  MTTF (``usage ÷ MTTF``, rounded; 0 when they never crashed), and the app's score follows;
* ``windows``, ``cloud_management``, ``cloud_identity``, ``cloud_provisioning`` (work from
  anywhere): the metric met on the devices that miss it;
* ``battery_replacement`` (battery): every battery below ``replace_below_pct`` replaced
  (processors/insights/battery.py ``replaced``);
* ``starved_model:<model>`` (resource): the model's spike time brought down to the healthy models'
  median (processors/insights/resource.py ``unstarved``).
"""

from __future__ import annotations

from processors import scores
from processors.insights import battery, resource, wfa
from processors.insights.insight import Context, Finding, Insight
from processors.regression import poisson_rate_test

_WFA_TEXT = {
    "windows": ("run an unsupported Windows build", "Update them to a supported Windows build."),
    "cloud_management": (
        "are not managed from the cloud",
        "Enroll them in Intune, co-management or tenant attach.",
    ),
    "cloud_identity": ("have no cloud identity", "Entra join them, or hybrid join the domain-joined ones."),
    "cloud_provisioning": (
        "cannot be provisioned from the cloud",
        "Register them with Windows Autopilot and assign a deployment profile.",
    ),
}


def _version_fix(ctx: Context, app: str, version: str) -> tuple[float | None, float | None] | None:
    """(app reliability with ``version`` crashing at the rate of the app's other versions, their MTTF h),
    or ``None`` when the version is not significantly and ``app_version_mttf_ratio`` times worse."""
    rules, apps = ctx.cfg.rules, ctx.facts.apps
    fig = apps.versions[(app, version)]
    hours = fig.usage_ms / 3_600_000.0
    if fig.crashes < rules.app_version_min_crashes or hours < rules.app_version_min_usage_hours:
        return None
    others = [f for (a, v), f in apps.versions.items() if a == app and v != version]
    usage = sum(f.usage_ms for f in others)
    crashes = sum(f.crashes for f in others)
    if usage / 3_600_000.0 < rules.app_version_min_usage_hours:
        return None
    other_mttf = scores.mttf_hours(usage, crashes)
    mttf = scores.mttf_hours(fig.usage_ms, fig.crashes) or 0.0
    if other_mttf is not None and other_mttf < rules.app_version_mttf_ratio * mttf:
        return None
    if poisson_rate_test(fig.crashes, fig.usage_ms, crashes, usage).p_value >= rules.app_version_alpha:
        return None
    crashes_then = 0 if other_mttf is None else round(hours / other_mttf)
    whole = apps.apps[app]
    fixed = scores.AppFigures(
        whole.usage_ms, max(whole.crashes - fig.crashes + crashes_then, 0), whole.active_devices
    )
    return scores.fleet_app_score({**apps.apps, app: fixed}, apps.enrolled, ctx.score_cfg), other_mttf


def app_versions(ctx: Context) -> list[Insight | None]:
    out: list[Insight | None] = []
    for app, version in sorted(ctx.facts.apps.versions):
        if app not in ctx.facts.apps.apps:
            continue
        fixed = _version_fix(ctx, app, version)
        if fixed is None:
            continue
        after, other_mttf = fixed
        fig = ctx.facts.apps.versions[(app, version)]
        mttf = scores.mttf_hours(fig.usage_ms, fig.crashes)
        finding = Finding(
            id=f"app_version:{app}@{version}",
            score="app_reliability",
            title=f"{app} {version} crashes every {mttf or 0:.1f} h of use, its other versions "
            + ("never" if other_mttf is None else f"every {other_mttf:.1f} h"),
            recommendation=f"Move the devices on {app} {version} to another version (or a fixed one).",
            devices=ctx.facts.apps.version_devices.get((app, version), ()),
            after=after,
            evidence={"mttf_hours": mttf, "other_versions_mttf_hours": other_mttf},
        )
        out.append(ctx.insight(finding))
    return out


def wfa_metric(ctx: Context, metric: str) -> list[Insight | None]:
    missing = [d.device_id for d in ctx.facts.wfa if d.checks[metric].met is False]
    if not missing:
        return []
    what, rec = _WFA_TEXT[metric]
    finding = Finding(
        id=metric,
        score="work_from_anywhere",
        title=f"{len(missing)} devices {what}",
        recommendation=rec,
        devices=missing,
        after=wfa.wfa_score(wfa.with_met(ctx.facts.wfa, metric, ctx.cfg.wfa), ctx.cfg.wfa),
    )
    return [ctx.insight(finding)]


def battery_replacement(ctx: Context) -> list[Insight | None]:
    cfg = ctx.cfg.battery
    worn = {h.device_id for h in ctx.facts.battery if h.capacity_pct < cfg.replace_below_pct}
    if not worn:
        return []
    after = [battery.replaced(h, cfg) if h.device_id in worn else h for h in ctx.facts.battery]
    finding = Finding(
        id="battery_replacement",
        score="battery",
        title=f"{len(worn)} batteries hold less than {cfg.replace_below_pct:.0f} % of their design capacity",
        recommendation="Replace these batteries (or the devices, where the model is old).",
        devices=worn,
        after=battery.fleet_score(after, cfg),
    )
    return [ctx.insight(finding)]


def starved_models(ctx: Context) -> list[Insight | None]:
    cfg, devices = ctx.cfg.resource, ctx.facts.resource
    out: list[Insight | None] = []
    for row in resource.by_model(devices, cfg):
        if not row.starved:
            continue
        which = "RAM" if row.ram_score is not None and row.ram_score <= (row.cpu_score or 100.0) else "CPU"
        finding = Finding(
            id=f"starved_model:{row.model}",
            score="resource",
            title=(
                f"{row.model} is {which}-starved: {row.cpu_spike_pct:.0f} % CPU and "
                f"{row.ram_spike_pct:.0f} % RAM spike time"
            ),
            recommendation=f"Add {which} to the {row.model} devices, or plan their replacement.",
            devices=[d.device_id for d in devices if d.model == row.model],
            after=resource.fleet_score(resource.unstarved(devices, row.model, cfg), cfg),
            evidence={
                "model_score": row.score,
                "cpu_spike_pct": row.cpu_spike_pct,
                "ram_spike_pct": row.ram_spike_pct,
            },
        )
        out.append(ctx.insight(finding))
    return out
