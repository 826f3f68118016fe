"""Insight rules on the startup score: HDD boot drives, Group Policy, startup processes, Fast Startup.

Each rule re-computes the startup score with its cause removed (docs/analytics.md §14):

* ``hdd_to_ssd``: every HDD device's core boot, core sign-in and time to responsive desktop
  scaled by the fleet's measured ``median(SSD) / median(HDD)`` of that metric (device medians,
  capped at 1; ``hdd_fallback_ratio`` with fewer than ``hdd_min_devices`` devices of either);
* ``group_policy_signin`` / ``group_policy_boot``: devices whose median GP time exceeds
  ``gp_signin_slow_ms`` / ``gp_boot_slow_ms`` get the curve's goal instead; at sign-in the time
  to responsive desktop drops by the same amount;
* ``startup_process:<name>``: that process's median delay off its devices' time to responsive
  desktop (processors/insights/startup_processes.py);
* ``fast_startup_off`` (informational): Fast Startup resumes are not scored (docs/analytics.md
  §2), so turning it on moves no score; the evidence is the boot time it would save:
  ``Σ cold boots after a shutdown × max(0, device median core boot − fleet median resume)``.
"""

from __future__ import annotations

from processors import scores
from processors.insights import startup_processes
from processors.insights.common import median
from processors.insights.insight import Context, Finding, Insight

HDD_METRICS: tuple[str, ...] = ("core_boot_ms", "core_logon_ms", "total_logon_ms")


def _after(ctx: Context, values: scores.DeviceValues) -> float | None:
    return scores.startup_score(values, ctx.score_cfg)


def disk_ratio(ctx: Context, metric: str) -> float:
    """``median(SSD devices) / median(HDD devices)`` of a metric, capped at 1 (or the fallback)."""
    values, disk = ctx.facts.startup.values, ctx.facts.startup.disk
    ssd = [v[metric] for d, v in values.items() if disk.get(d) == "ssd" and metric in v]
    hdd = [v[metric] for d, v in values.items() if disk.get(d) == "hdd" and metric in v]
    m_ssd, m_hdd = median(ssd), median(hdd)
    enough = min(len(ssd), len(hdd)) >= ctx.cfg.rules.hdd_min_devices
    if not enough or not m_ssd or not m_hdd:
        return ctx.cfg.rules.hdd_fallback_ratio
    return min(m_ssd / m_hdd, 1.0)


def hdd_to_ssd(ctx: Context) -> list[Insight | None]:
    values, disk = ctx.facts.startup.values, ctx.facts.startup.disk
    hdd = {d for d in values if disk.get(d) == "hdd"}
    if not hdd:
        return []
    ratio = {m: disk_ratio(ctx, m) for m in HDD_METRICS}
    after = {
        d: {m: v * ratio[m] if d in hdd and m in ratio else v for m, v in vals.items()}
        for d, vals in values.items()
    }
    finding = Finding(
        id="hdd_to_ssd",
        score="startup",
        title=f"{len(hdd)} devices boot from a hard disk (HDD)",
        recommendation="Replace the HDD boot drives with SSDs: boots from an HDD are typically 3-4x slower.",
        devices=hdd,
        after=_after(ctx, after),
        evidence={f"ssd_hdd_ratio_{m}": r for m, r in ratio.items()},
    )
    return [ctx.insight(finding)]


def group_policy(ctx: Context, metric: str) -> list[Insight | None]:
    values, rules = ctx.facts.startup.values, ctx.cfg.rules
    slow_ms = rules.gp_signin_slow_ms if metric == "gp_logon_ms" else rules.gp_boot_slow_ms
    goal = ctx.score_cfg.curves[metric].goal
    slow = {d for d, v in values.items() if v.get(metric, 0.0) > slow_ms}
    if not slow:
        return []
    after: dict[str, dict[str, float]] = {}
    for d, vals in values.items():
        row = dict(vals)
        if d in slow:
            cut = row[metric] - goal
            row[metric] = goal
            if metric == "gp_logon_ms" and "total_logon_ms" in row:
                row["total_logon_ms"] = max(row["total_logon_ms"] - cut, 0.0)
        after[d] = row
    phase = "sign-in" if metric == "gp_logon_ms" else "boot"
    typical = median([values[d][metric] for d in slow]) or 0.0
    finding = Finding(
        id="group_policy_signin" if phase == "sign-in" else "group_policy_boot",
        score="startup",
        title=f"Group Policy delays {phase} on {len(slow)} devices (median {typical / 1000:.1f} s)",
        recommendation=f"Review the Group Policy applied at {phase}: slow links, scripts, synchronous mode.",
        devices=slow,
        after=_after(ctx, after),
        evidence={"median_gp_ms": typical, "slow_above_ms": slow_ms},
    )
    return [ctx.insight(finding)]


def startup_process_insights(ctx: Context) -> list[Insight | None]:
    st = ctx.facts.startup
    out: list[Insight | None] = []
    for p in startup_processes.insight_processes(st.processes, ctx.cfg.startup_processes):
        after = startup_processes.without(st.values, st.desktop_ms, st.process_delays, {p.key})
        finding = Finding(
            id=f"startup_process:{p.name}",
            score="startup",
            title=f"{p.name} ({p.publisher or 'unknown publisher'}) delays sign-in on {p.devices} devices",
            recommendation=(
                f"Defer or remove {p.name} {p.version} at sign-in "
                f"(median delay {p.median_delay_ms / 1000:.1f} s per sign-in)."
            ),
            devices=[d for d, ks in st.process_delays.items() if p.key in ks],
            after=_after(ctx, after),
            evidence={
                "median_delay_ms": p.median_delay_ms,
                "total_delay_ms": p.total_delay_ms,
                "version": p.version,
            },
        )
        out.append(ctx.insight(finding))
    return out


def fast_startup_off(ctx: Context) -> list[Insight | None]:
    st, rules = ctx.facts.startup, ctx.cfg.rules
    off = [
        f
        for f in st.fast_startup
        if f.shutdown_full_boots >= rules.fast_startup_min_shutdown_boots and f.fast_boots == 0
    ]
    if not off or st.fast_core_ms is None or ctx.base["startup"] is None:
        return []
    fast = st.fast_core_ms
    saved_ms = sum(f.shutdown_full_boots * max(0.0, (f.core_boot_ms or 0.0) - fast) for f in off)
    finding = Finding(
        id="fast_startup_off",
        score="startup",
        title=f"Fast Startup is off on {len(off)} devices: every boot after a shutdown is a cold boot",
        recommendation="Turn on Fast Startup where policy allows; it saves boot time, not score points.",
        devices=[f.device_id for f in off],
        after=ctx.base["startup"],
        evidence={"boot_hours_saved": saved_ms / 3_600_000.0, "fast_startup_core_boot_ms": fast},
    )
    return [ctx.informational(finding)]
