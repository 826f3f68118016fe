"""``fleetpulse demo``: the local stack, a simulated fleet with injected regressions, the reports.

start stack -> simulate (posted over HTTP like real agents) -> wait until every accepted event is
queryable -> wait for the injected regressions -> print the reports -> write the HTML report ->
stop the stack (or keep it running with ``--keep``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import click

from fleetpulse.access import read_operator_token
from fleetpulse.settings import Settings
from fleetpulse.stack import LocalStack, StopSignals
from simulator.cli import summary
from simulator.config import SimulationConfig
from simulator.manifest import InjectionTruth, Manifest
from simulator.run import run_simulation
from sinks.migrations.m0001_raw_events import FAMILIES
from sinks.reader import QueryError, RemoteReader


def _say(message: str) -> None:
    click.secho(f"[fleetpulse demo] {message}", fg="cyan", err=True)


def queryable_events(reader: RemoteReader, database: str) -> int:
    """How many raw events ClickHouse holds, over every raw table."""
    union = " UNION ALL ".join(f"SELECT count() AS n FROM {database}.{table}" for table in FAMILIES)
    rows = reader.query_json(f"SELECT sum(n) AS n FROM ({union})")
    return int(rows[0]["n"])


def injected_scope(inj: InjectionTruth) -> tuple[str, str] | None:
    """(scope_type, scope suffix) a detected regression of this injection has (``None``: noise)."""
    if inj.metric == "coreBootMs" and "model" in inj.scope:
        return "model", f"|{inj.scope['model']}"
    if inj.metric == "appCrashRate" and inj.to_version:
        return "app_version", f"{inj.scope['app']}|{inj.to_version}"
    return None


def found_injections(reader: RemoteReader, database: str, manifest: Manifest) -> int:
    """How many injected regressions are open in ClickHouse (wider scopes they move don't count)."""
    rows = reader.query_json(
        f"SELECT scope_type, scope FROM {database}.regressions FINAL WHERE status = 'open'"
    )
    want = [w for w in map(injected_scope, manifest.injections) if w is not None]
    return sum(any(r["scope_type"] == t and r["scope"].endswith(sfx) for r in rows) for t, sfx in want)


def _wait(what: str, probe: Callable[[], int], target: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    seen = 0
    while time.monotonic() < deadline:
        try:
            seen = int(probe())
        except QueryError:
            seen = 0
        if seen >= target:
            return seen
        time.sleep(1.0)
    _say(f"{what}: {seen} of {target} after {timeout_s:.0f}s; reporting what there is")
    return seen


def run_demo(settings: Settings, *, devices: int, days: int, seed: int, html_out: Path, keep: bool) -> None:
    api_key, tenant = next(iter(settings.tenants.items()))
    with LocalStack(settings, with_pipeline=True) as endpoints:
        _say(f"simulating {devices} devices for {days} days (tenant {tenant.name}, api key {api_key})")
        started = time.monotonic()
        config = SimulationConfig(seed=seed, devices=devices, days=days, invalid_fraction=0.002)
        manifest = run_simulation(
            config, collector_url=endpoints["collector"], api_key=api_key, out_dir=None, ikey=tenant.ikeys[0]
        )
        click.echo(summary(manifest))
        reader = RemoteReader(endpoints["sink"])
        db = settings.clickhouse_database
        accepted = manifest.send.acc if manifest.send else manifest.events_total
        got = _wait("queryable events", lambda: queryable_events(reader, db), accepted, timeout_s=300)
        _say(f"{got} events queryable in ClickHouse, {time.monotonic() - started:.0f}s after the first post")
        expected = sum(1 for inj in manifest.injections if injected_scope(inj) is not None)
        _wait(
            "injected regressions found",
            lambda: found_injections(reader, db, manifest),
            expected,
            timeout_s=240,
        )
        from fleetpulse.cli import cli

        for args in (
            ["report", "startup"],
            ["report", "models", "--limit", "10"],
            ["report", "apps", "--limit", "10"],
            ["report", "restarts"],
            ["regressions"],
            # issue 18: the rest of Endpoint analytics, and a week of recorded daily scores
            ["scores", "record", "--days", "7"],
            ["report", "insights", "--limit", "12"],
            ["report", "startup-processes", "--limit", "10"],
            ["report", "resource", "--limit", "10"],
            ["report", "battery", "--limit", "8"],
            ["report", "wfa", "--limit", "10"],
            ["report", "anomalies", "--limit", "5"],
            ["report", "html", str(html_out)],
        ):
            click.secho(f"\n$ fleetpulse {' '.join(args)}", bold=True)
            cli.main(args, prog_name="fleetpulse", standalone_mode=False)
        _say(f"HTML report: {html_out.resolve()}")
        token = read_operator_token(settings.data_dir.resolve())
        _say(f"console listening on {endpoints['console']}/?token={token}")
        _say(f'SQL: fleetpulse sql "SELECT count() FROM {db}.boot_events" while the stack runs')
        if keep:
            _say("the stack keeps running; Ctrl-C stops it")
            with StopSignals() as stop:
                stop.wait()
