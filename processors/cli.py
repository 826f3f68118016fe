"""``process`` (run a faust worker) and the ``baseline`` group; thin: parse -> settings -> build -> run.

Register in ``fleetpulse/cli.py``::

    from processors.cli import baseline, process
    main.add_command(process)
    main.add_command(baseline)
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import click
import orjson
from prometheus_client import CollectorRegistry

from fleetpulse.settings import Settings, load_settings


def run_worker(settings: Settings) -> None:
    import faust  # imported late: the baseline commands do not need it

    from processors.app import create_app

    app = create_app(settings, CollectorRegistry())  # logs: JSON lines (processors.logs)
    # logs go out once, as JSON lines (processors.logs); faust's own console handler would repeat them
    worker = faust.Worker(app, loglevel=settings.log_level, redirect_stdouts=False, logfile=os.devnull)
    worker.execute_from_commandline()  # handles SIGINT/SIGTERM, stops within faust's timeouts


@click.command("process")
def process() -> None:
    """Run a processors worker (aggregates + regressions); scale by starting more."""
    run_worker(load_settings())


@click.group("baseline")
def baseline() -> None:
    """Named baselines: snapshots of the merged daily aggregates (no cap)."""


_SNAPSHOT_SQL = """
INSERT INTO {db}.baselines (tenant, name, created_at, period_start, period_end, metric, scope_type, scope,
                            value, count, devices, sketch, zero_count)
SELECT tenant, {{name:String}}, now64(3), {{since:DateTime}}, {{until:DateTime}}, metric, scope_type, scope,
       p50, count, devices, mapFromArrays(arrayMap(k -> toInt16(k), keys),
                                          arrayMap(k -> toUInt64(buckets[k]), keys)), zero_count
FROM (
    SELECT tenant, metric, scope_type, scope, sum(count) AS count, max(devices) AS devices,
           sum(zero_count) AS zero_count, sumMap(sketch) AS buckets, arraySort(mapKeys(buckets)) AS keys,
           any(p50) AS p50
    FROM {db}.aggregates_merged
    WHERE tenant = {{tenant:String}} AND window_kind = 'day'
      AND window_start >= {{since:DateTime}} AND window_start <= {{until:DateTime}}
    GROUP BY tenant, metric, scope_type, scope
)
"""


def _reader(settings: Settings) -> Any:
    from sinks.reader import open_reader

    return open_reader(settings)


def _publish(settings: Settings, tenant: str, name: str, value: bytes | None) -> None:
    import asyncio

    from aiokafka import AIOKafkaProducer  # dependency check

    async def send() -> None:

        prod = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
        await prod.start()
        try:
            await prod.send_and_wait(
                settings.topic_baselines, value=value, key=f"{tenant}\x1f{name}".encode(), partition=0
            )
        finally:
            await prod.stop()

    asyncio.run(send())


def snapshot_doc(rows: list[dict[str, Any]], name: str, since: float, until: float) -> dict[str, Any]:
    """The :func:`processors.baseline.to_dict` form of the baseline rows read back from ClickHouse."""
    metrics = {
        "\x1f".join((r["scope_type"], r["scope"], r["metric"])): {
            "value": r["value"],
            "count": int(r["count"]),
            "devices": int(r["devices"]),
            "statistic": "p50",
            "sum": 0.0,
            "zero_count": int(r["zero_count"]),
            "buckets": {str(k): int(v) for k, v in (r["sketch"] or {}).items()},
        }
        for r in rows
    }
    return {
        "name": name,
        "created_at": time.time(),
        "start_day": int(since),
        "end_day": int(until),
        "metrics": metrics,
        "apps": {},
    }


def _day(text: str) -> float:
    from datetime import UTC, datetime

    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@baseline.command("create")
@click.argument("name")
@click.option("--since", required=True, help="first day (YYYY-MM-DD, UTC)")
@click.option("--until", required=True, help="last day (YYYY-MM-DD, UTC)")
@click.option("--tenant", default="contoso", show_default=True)
def create(name: str, since: str, until: str, tenant: str) -> None:
    """Snapshot the merged daily aggregates of [since, until] as NAME and publish it to the regressions."""
    settings = load_settings()
    reader = _reader(settings)
    try:
        params = {"name": name, "tenant": tenant, "since": since + " 00:00:00", "until": until + " 00:00:00"}
        reader.query_json(_SNAPSHOT_SQL.format(db=settings.clickhouse_database), params)
        rows = _rows(reader, settings, tenant, name)
    finally:
        reader.close()
    if not rows:
        raise click.ClickException(f"no daily aggregates for tenant {tenant} in [{since}, {until}]")
    _publish(settings, tenant, name, orjson.dumps(snapshot_doc(rows, name, _day(since), _day(until))))
    click.echo(f"baseline {name}: {len(rows)} metric scopes")


def _rows(reader: Any, settings: Settings, tenant: str, name: str | None) -> list[dict[str, Any]]:
    where = "tenant = {tenant:String}" + (" AND name = {name:String}" if name else "")
    return list(
        reader.query_json(
            f"SELECT name, toString(created_at) AS created_at, toString(period_start) AS period_start, "
            f"toString(period_end) AS period_end, metric, scope_type, scope, value, count, devices, sketch, "
            f"zero_count FROM {settings.clickhouse_database}.baselines FINAL WHERE {where} "
            f"ORDER BY name, scope_type, scope, metric",
            {"tenant": tenant, "name": name or ""},
        )
    )


@baseline.command("list")
@click.option("--tenant", default="contoso", show_default=True)
def list_(tenant: str) -> None:
    """Names, periods and sizes of the named baselines."""
    settings = load_settings()
    reader = _reader(settings)
    try:
        rows = _rows(reader, settings, tenant, None)
    finally:
        reader.close()
    seen: dict[str, list[Any]] = {}
    for r in rows:
        seen.setdefault(r["name"], [r["period_start"], r["period_end"], r["created_at"], 0])[3] += 1
    for n, (a, b, c, k) in seen.items():
        click.echo(f"{n}\t{a} .. {b}\tcreated {c}\t{k} metric scopes")


@baseline.command("show")
@click.argument("name")
@click.option("--tenant", default="contoso", show_default=True)
def show(name: str, tenant: str) -> None:
    """Every (scope, metric) value of NAME as JSON lines."""
    settings = load_settings()
    reader = _reader(settings)
    try:
        for r in _rows(reader, settings, tenant, name):
            r.pop("sketch", None)
            click.echo(json.dumps(r, default=str))
    finally:
        reader.close()


@baseline.command("delete")
@click.argument("name")
@click.option("--tenant", default="contoso", show_default=True)
def delete(name: str, tenant: str) -> None:
    """Delete NAME from ClickHouse and from the regression detector (tombstone)."""
    settings = load_settings()
    reader = _reader(settings)
    try:
        reader.query_json(
            f"DELETE FROM {settings.clickhouse_database}.baselines "
            "WHERE tenant = {tenant:String} AND name = {name:String}",
            {"tenant": tenant, "name": name},
        )
    finally:
        reader.close()
    _publish(settings, tenant, name, None)
    click.echo(f"baseline {name} deleted")


@click.group()
def main() -> None:
    """Processors entry (``python -m processors.cli process``) until ``fleetpulse`` registers it."""


main.add_command(process)
main.add_command(baseline)

if __name__ == "__main__":
    main()
