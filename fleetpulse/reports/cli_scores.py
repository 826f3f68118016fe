"""CLI: ``fleetpulse scores record`` writes the daily Endpoint analytics scores (``score_history``).

Run it once a day (cron, a systemd timer, a Kubernetes CronJob) for yesterday, or with
``--days N`` to fill N past days (the raw tables keep 400 days, enough for the 13 months the
insights report shows). It reads as one tenant (ClickHouse scopes the reads) and writes through
the store owner: the running stack's sink, or the store itself when none runs.
"""

from __future__ import annotations

import datetime as dt
import json

import click

from fleetpulse.reports.history import record_day
from fleetpulse.reports.params import newest_event_time
from fleetpulse.reports.tenancy import TENANT_HELP, resolve_tenant_cli
from fleetpulse.reports.text import score
from fleetpulse.reports.text_ea import LABELS
from fleetpulse.settings import Settings
from sinks.reader import ScopedReader, open_reader


@click.group("scores")
def scores() -> None:
    """The daily Endpoint analytics scores kept for 13 months (score_history)."""


@scores.command("record")
@click.option(
    "--day", help="UTC day (YYYY-MM-DD) the 14-day window ends with; default: the newest event's day."
)
@click.option(
    "--days", default=1, show_default=True, type=click.IntRange(1, 400), help="Days, ending with --day."
)
@click.option("--tenant", default="", help=TENANT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def record(ctx: click.Context, day: str | None, days: int, tenant: str, as_json: bool) -> None:
    """Compute and store each score for DAY (and the DAYS - 1 days before it)."""
    settings = ctx.find_object(Settings)
    if settings is None:
        raise click.UsageError("no settings in the click context (run through `fleetpulse`)")
    tenant = resolve_tenant_cli(settings, tenant)
    reader = open_reader(settings, tenant=tenant)
    assert isinstance(reader, ScopedReader)  # a tenant was given
    try:
        if day:
            last = dt.date.fromisoformat(day)
        else:
            newest = newest_event_time(reader, settings.clickhouse_database, tenant)
            if newest is None:
                raise click.ClickException(f"tenant {tenant} has no events: nothing to score")
            last = newest.date()
        written = [
            record_day(
                reader,
                reader.inner,
                tenant,
                last - dt.timedelta(days=k),
                settings.insights,
                settings.clickhouse_database,
            )
            for k in reversed(range(days))
        ]
    finally:
        reader.close()
    if as_json:
        click.echo(json.dumps({"tenant": tenant, "days": written}))
        return
    for row in written:
        click.echo(f"{row['day']}  " + "  ".join(f"{LABELS[k]} {score(v)}" for k, v in row["scores"].items()))
