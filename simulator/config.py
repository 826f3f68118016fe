"""Declarative configuration of a simulated fleet and of the regressions injected into it.

Everything the simulator does is a pure function of a :class:`SimulationConfig` (plus the
tenant's iKey): same config, same bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulator.catalog import APPS_BY_NAME, MODELS_BY_NAME

ChangeType = Literal["policy", "app", "driver", "osUpdate", "firmware", "setting"]
Metric = Literal[
    "coreBootMs", "gpBootMs", "coreLogonMs", "appCrashRate", "appHangRate", "stopErrorRate", "none"
]
InvalidReason = Literal["time_out_of_range", "out_of_range", "invariant_violated"]

DEVICE_METRICS: frozenset[str] = frozenset({"coreBootMs", "gpBootMs", "coreLogonMs", "stopErrorRate"})
APP_METRICS: frozenset[str] = frozenset({"appCrashRate", "appHangRate"})


class Injection(BaseModel):
    """One regression (or a noise-only change when ``metric="none"`` / ``factor=1``).

    On simulated day ``day`` every device in scope (``manufacturer``/``model``/``os_build``,
    devices with ``app`` installed for app changes), minus the control cohort, receives the
    configuration change ``change_id`` with probability ``rollout`` — on its first active day
    at or after ``day``. From then on ``metric`` is multiplied by ``factor`` on that device
    (device metrics) or for the app version ``to_version`` (app metrics; the change is an app
    update to that version).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64)]
    metric: Metric
    factor: Annotated[float, Field(gt=0.0, le=100.0)] = 1.0
    day: Annotated[int, Field(ge=0)]
    change_type: ChangeType
    change_id: Annotated[str, Field(min_length=1, max_length=128)]
    change_name: Annotated[str, Field(min_length=1, max_length=256)]
    manufacturer: str | None = None
    model: str | None = None
    os_build: str | None = None
    app: str | None = None
    from_version: str | None = None
    to_version: Annotated[str | None, Field(max_length=24, pattern=r"^[0-9]+(\.[0-9]+){0,3}$")] = None
    rollout: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0

    @model_validator(mode="after")
    def _consistent(self) -> Injection:
        if self.model is not None and self.model not in MODELS_BY_NAME:
            raise ValueError(f"unknown model {self.model!r}; known: {sorted(MODELS_BY_NAME)}")
        if self.app is not None and self.app not in APPS_BY_NAME:
            raise ValueError(f"unknown app {self.app!r}; known: {sorted(APPS_BY_NAME)}")
        if self.metric in APP_METRICS and (self.app is None or self.to_version is None):
            raise ValueError(f"metric {self.metric} needs app and to_version (an app update)")
        if self.change_type == "app" and (self.app is None or self.to_version is None):
            raise ValueError("an app change needs app and to_version")
        if self.app is not None and self.to_version in APPS_BY_NAME[self.app].versions:
            raise ValueError(f"to_version {self.to_version} is already a catalog version")
        return self


def demo_injections(days: int) -> tuple[Injection, ...]:
    """The regressions the demo injects: a driver that slows one model's boot, an app update
    whose new version crashes 4× as often, and a noise-only policy change (no effect)."""
    mid = max(1, days // 2)
    return (
        Injection(
            name="latitude-7440-graphics-driver",
            metric="coreBootMs",
            factor=1.3,
            day=mid,
            change_type="driver",
            change_id="drv:intel-graphics-31.0.101.5333",
            change_name="Intel Graphics Driver 31.0.101.5333",
            model="Latitude 7440",
            from_version="31.0.101.4502",
            to_version="31.0.101.5333",
        ),
        Injection(
            name="teams-crash-regression",
            metric="appCrashRate",
            factor=4.0,
            day=mid,
            change_type="app",
            change_id="app:ms-teams.exe",
            change_name="Microsoft Teams 24295.605",
            app="ms-teams.exe",
            to_version="24295.605.3225.8804",
            rollout=0.6,
        ),
        Injection(
            name="edge-homepage-policy-noise",
            metric="none",
            factor=1.0,
            day=max(1, days // 3),
            change_type="policy",
            change_id="policy:5f2b8c1e-3d4a-4b6c-9e7f-0a1b2c3d4e5f",
            change_name="Edge: set homepage and new-tab page",
            rollout=0.5,
        ),
    )


class SimulationConfig(BaseModel):
    """A simulated fleet: size, duration, behaviour knobs, injections, invalid traffic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 42
    devices: Annotated[int, Field(ge=10, le=1_000_000)] = 200
    days: Annotated[int, Field(ge=1, le=365)] = 14
    start: datetime | None = Field(
        default=None,
        description="UTC midnight the simulation starts at; default: days + 1 days before today, "
        "so every event passes the collector's freshness check (≤ 30 days old) when days ≤ 28",
    )
    domain_joined_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.6
    control_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    offline_probability: Annotated[float, Field(ge=0.0, le=1.0)] = 0.03
    # Share of the log-variance of boot and sign-in phases that is the device's own level (a slow
    # device is slow every time); the rest varies boot to boot. The fleet-wide median/p90 keep.
    device_timing_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.75
    clock_skew_sigma_sec: Annotated[float, Field(ge=0.0, le=600.0)] = 20.0
    usage_windows_per_app_day: Annotated[float, Field(gt=0.0, le=96.0)] = 2.5
    heartbeat_every_hours: Annotated[int, Field(ge=1, le=24)] = 1
    resource_every_hours: Annotated[int, Field(ge=1, le=24)] = 1
    battery_every_hours: Annotated[int, Field(ge=1, le=24)] = 1
    invalid_fraction: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0
    invalid_reasons: tuple[InvalidReason, ...] = ("time_out_of_range", "out_of_range", "invariant_violated")
    injections: tuple[Injection, ...] | None = Field(
        default=None, description="None: demo_injections(days); () injects nothing"
    )
    chunk_devices: Annotated[int, Field(ge=1, le=1_000_000)] = 2000
    # the Endpoint analytics insight cohorts (simulator/cohorts.py); off: no census WFA fields,
    # no startup process versions, and every device's records as before they existed
    insight_cohorts: bool = True

    @model_validator(mode="after")
    def _injection_days(self) -> SimulationConfig:
        for inj in self.resolved_injections():
            if inj.day >= self.days:
                raise ValueError(f"injection {inj.name}: day {inj.day} is not < days {self.days}")
        if self.start is not None and self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        if not self.invalid_reasons:
            raise ValueError("invalid_reasons must not be empty")
        return self

    def resolved_injections(self) -> tuple[Injection, ...]:
        """The injections in effect (the demo set when none were given)."""
        return demo_injections(self.days) if self.injections is None else self.injections

    def resolved_start(self, now: datetime | None = None) -> datetime:
        """Midnight UTC of simulated day 0."""
        if self.start is not None:
            return self.start.astimezone(UTC)
        now = now or datetime.now(UTC)
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - timedelta(days=self.days + 1)
