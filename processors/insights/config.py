"""Every constant of the Endpoint analytics insights, with its default (docs/analytics.md §9–§15).

:class:`InsightsConfig` is the ``insights`` field of the settings: ``FLEETPULSE_INSIGHTS`` takes a
JSON object, and a partial one keeps the other defaults (``{"resource": {"min_usage_hours": 1}}``).
Microsoft publishes none of these numbers; where it gives a threshold (battery capacity < 60 %,
startup processes on ≥ 10 devices, spike = CPU > 50 %) the default is that threshold.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Linear(_Frozen):
    """A 0-100 score linear from ``poor`` (0) to ``good`` (100), clamped; works in either direction."""

    good: float
    poor: float

    @model_validator(mode="after")
    def _distinct(self) -> Linear:
        if self.good == self.poor:
            raise ValueError("good and poor must differ")
        return self

    def score(self, value: float) -> float:
        t = (value - self.poor) / (self.good - self.poor)
        return 100.0 * min(1.0, max(0.0, t))


class StartupProcessConfig(_Frozen):
    min_devices: int = Field(default=10, ge=1)  # EA lists a process when it affects >= 10 devices
    insight_min_median_delay_ms: float = Field(default=2_000.0, ge=0)  # listed and this slow: an insight
    insight_max_processes: int = Field(default=5, ge=0)  # insights for at most this many processes


class ResourceConfig(_Frozen):
    cpu_curve: Linear = Linear(good=5.0, poor=50.0)  # CPU spike-time % -> score
    ram_curve: Linear = Linear(good=10.0, poor=70.0)  # RAM spike-time % -> score
    cpu_weight: float = Field(default=0.5, ge=0)
    ram_weight: float = Field(default=0.5, ge=0)
    min_usage_hours: float = Field(default=2.0, ge=0)  # a device with less usage in range is not scored
    starved_model_score: float = Field(default=50.0, ge=0, le=100)  # a model scoring below: starved
    min_devices: int = Field(default=5, ge=1)


class BatteryConfig(_Frozen):
    capacity_curve: Linear = Linear(good=90.0, poor=50.0)  # max capacity % of design -> score
    runtime_curve: Linear = Linear(good=8.0, poor=2.0)  # estimated runtime on a full charge, hours
    capacity_weight: float = Field(default=0.5, ge=0)
    runtime_weight: float = Field(default=0.5, ge=0)
    min_on_battery_hours: float = Field(default=1.0, ge=0)  # runtime needs this much time on battery
    replace_below_pct: float = Field(default=60.0, ge=0, le=100)  # EA: < 60 % "most impacted"
    impacted_below_pct: float = Field(default=80.0, ge=0, le=100)  # EA: 60-80 % "moderately impacted"
    min_devices: int = Field(default=5, ge=1)


class WfaConfig(_Frozen):
    supported_builds: tuple[str, ...] = ("22631", "26100", "26200")  # Windows builds in support
    cloud_management: tuple[str, ...] = ("intune", "coManaged", "tenantAttach", "configMgrCmg")
    cloud_identity: tuple[str, ...] = ("entra", "hybrid")
    windows_weight: float = Field(default=0.4, ge=0)  # the legacy score weighted Windows highest
    cloud_management_weight: float = Field(default=0.2, ge=0)
    cloud_identity_weight: float = Field(default=0.2, ge=0)
    cloud_provisioning_weight: float = Field(default=0.2, ge=0)
    min_devices: int = Field(default=5, ge=1)

    def weights(self) -> dict[str, float]:
        return {
            "windows": self.windows_weight,
            "cloud_management": self.cloud_management_weight,
            "cloud_identity": self.cloud_identity_weight,
            "cloud_provisioning": self.cloud_provisioning_weight,
        }


class AnomalyConfig(_Frozen):
    app_crash_threshold: int = Field(default=3, ge=1)  # crashes of one app on a device in range
    app_hang_threshold: int = Field(default=3, ge=1)  # hangs of one app on a device in range
    stop_error_threshold: int = Field(default=2, ge=1)  # Stop errors of one driver on a device
    min_anomalous_devices: int = Field(default=3, ge=1)
    high_share: float = Field(default=0.10, gt=0, le=1)  # anomalous share of exposed devices: high
    medium_share: float = Field(default=0.03, gt=0, le=1)  # ... medium (below: low)
    group_min_anomalous: int = Field(default=3, ge=1)
    group_min_lift: float = Field(default=2.0, ge=1)  # group prevalence >= lift x the anomaly's share
    group_alpha: float = Field(default=0.05, gt=0, le=1)  # binomial test of the group's anomalous count
    prevalence_high: float = Field(default=0.5, gt=0, le=1)
    prevalence_medium: float = Field(default=0.2, gt=0, le=1)
    max_groups: int = Field(default=5, ge=1)

    def threshold(self, kind: str) -> int:
        return {
            "app_crash": self.app_crash_threshold,
            "app_hang": self.app_hang_threshold,
            "stop_error": self.stop_error_threshold,
        }[kind]


class RulesConfig(_Frozen):
    """When an insight applies, and what "the cause removed" means for it."""

    hdd_fallback_ratio: float = Field(default=0.3, gt=0, le=1)  # SSD/HDD time when too few to measure
    hdd_min_devices: int = Field(default=5, ge=1)  # devices per disk type to measure the ratio
    gp_signin_slow_ms: float = Field(default=5_000.0, ge=0)  # device median GP sign-in above: slow
    gp_boot_slow_ms: float = Field(default=5_000.0, ge=0)  # device median GP boot above: slow
    fast_startup_min_shutdown_boots: int = Field(default=3, ge=1)  # cold boots after shutdown, none fast
    app_version_mttf_ratio: float = Field(default=2.0, gt=1)  # the other versions' MTTF >= this x
    app_version_alpha: float = Field(default=0.01, gt=0, lt=1)  # crash rate above the others: p below
    app_version_min_crashes: int = Field(default=5, ge=1)
    app_version_min_usage_hours: float = Field(default=10.0, ge=0)
    min_points: float = Field(default=0.05, ge=0)  # insights adding fewer points are left out


class OverallConfig(_Frozen):
    """Weights of the overall score (renormalised over the sub-scores that have a value)."""

    startup: float = Field(default=0.30, ge=0)
    app_reliability: float = Field(default=0.30, ge=0)
    work_from_anywhere: float = Field(default=0.20, ge=0)
    resource: float = Field(default=0.10, ge=0)
    battery: float = Field(default=0.10, ge=0)

    def weights(self) -> dict[str, float]:
        return {
            "startup": self.startup,
            "app_reliability": self.app_reliability,
            "work_from_anywhere": self.work_from_anywhere,
            "resource": self.resource,
            "battery": self.battery,
        }


class InsightsConfig(_Frozen):
    startup_processes: StartupProcessConfig = StartupProcessConfig()
    resource: ResourceConfig = ResourceConfig()
    battery: BatteryConfig = BatteryConfig()
    wfa: WfaConfig = WfaConfig()
    anomalies: AnomalyConfig = AnomalyConfig()
    rules: RulesConfig = RulesConfig()
    overall: OverallConfig = OverallConfig()
    history_days: int = Field(default=396, ge=1)  # daily scores shown: 13 months
    score_window_days: int = Field(default=14, ge=1)  # a day's recorded score covers this many days


DEFAULT_INSIGHTS = InsightsConfig()
