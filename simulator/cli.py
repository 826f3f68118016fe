"""``fleetpulse simulate``: a seeded fleet posted to the collector like real agents, or NDJSON files."""

from __future__ import annotations

from pathlib import Path

import click

from fleetpulse.settings import Settings
from simulator.config import SimulationConfig
from simulator.manifest import Manifest
from simulator.run import run_simulation


def _tenant_credentials(settings: Settings, api_key: str | None) -> tuple[str, str]:
    """The API key to send and the iKey its tenant owns (the first one)."""
    key = api_key or next(iter(settings.tenants))
    tenant = settings.tenants.get(key)
    if tenant is None or not tenant.ikeys:
        raise click.BadParameter("no tenant with an iKey has this API key", param_hint="--api-key")
    return key, tenant.ikeys[0]


@click.command()
@click.option("--devices", default=200, show_default=True, help="Fleet size (10 to 1 000 000).")
@click.option("--days", default=14, show_default=True, help="Simulated days (accelerated).")
@click.option("--seed", default=42, show_default=True)
@click.option("--invalid-fraction", default=0.0, show_default=True, help="Share of deliberately bad events.")
@click.option("--no-inject", is_flag=True, help="Inject no regression (default: the demo's injections).")
@click.option("--collector", "collector_url", default=None, help="Collector URL (default: settings' port).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write NDJSON files and manifest.json here instead of posting.",
)
@click.option("--api-key", default=None, help="Tenant API key (default: the first configured tenant).")
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the manifest (what was injected and sent) to this file.",
)
@click.pass_context
def simulate(
    ctx: click.Context,
    devices: int,
    days: int,
    seed: int,
    invalid_fraction: float,
    no_inject: bool,
    collector_url: str | None,
    out_dir: Path | None,
    api_key: str | None,
    manifest_path: Path | None,
) -> None:
    """Simulate a realistic fleet and send its telemetry."""
    settings = ctx.obj
    assert isinstance(settings, Settings)
    key, ikey = _tenant_credentials(settings, api_key)
    config = SimulationConfig(
        seed=seed,
        devices=devices,
        days=days,
        invalid_fraction=invalid_fraction,
        injections=() if no_inject else None,
    )
    if out_dir is None and collector_url is None:
        collector_url = f"http://127.0.0.1:{settings.collector_port}"
    manifest = run_simulation(
        config, collector_url=None if out_dir else collector_url, api_key=key, out_dir=out_dir, ikey=ikey
    )
    if manifest_path is not None:
        manifest.write(manifest_path)
    click.echo(summary(manifest))


def summary(manifest: Manifest) -> str:
    """A few lines a person reads after a run: what was generated, injected and accepted."""
    lines = [
        f"simulated {manifest.devices} devices x {manifest.days} days from {manifest.start}: "
        f"{manifest.events_total} valid events, {manifest.invalid_total} invalid"
    ]
    lines += [
        f"  injected {inj.name}: {inj.metric} x{inj.factor} on day {inj.day} ({inj.change_id})"
        for inj in manifest.injections
    ]
    if manifest.send is not None:
        lines.append(
            f"  collector accepted {manifest.send.acc}, rejected {manifest.send.rej} "
            f"{dict(sorted(manifest.send.rejected_by_reason.items()))}"
        )
    return "\n".join(lines)
