"""The one console script, ``fleetpulse``, with thin subcommands.

Each subcommand: parse -> settings (built once here) -> check dependencies -> build -> run.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from fleetpulse.settings import Settings, load_settings


def _settings(ctx: click.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """fleetpulse: real-time endpoint-experience analytics (Kafka, faust, ClickHouse)."""
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    ctx.obj = settings


@cli.command()
@click.option("--store-only", is_flag=True, help="Only Kafka and the store (no collector, no processors).")
@click.option(
    "--brokers",
    type=click.IntRange(1, 9),
    default=None,
    help="Kafka nodes to start (from 3 on: 3 replicas, min ISR 2) [default: FLEETPULSE_KAFKA_BROKERS, 1].",
)
@click.pass_context
def up(ctx: click.Context, store_only: bool, brokers: int | None) -> None:
    """Start the whole local stack in the foreground; Ctrl-C stops every part."""
    from fleetpulse.stack import run_stack

    settings = _settings(ctx)
    if brokers is not None:
        settings = settings.model_copy(update={"kafka_brokers": brokers})
    run_stack(settings, with_pipeline=not store_only)


@cli.command()
@click.option("--devices", default=300, show_default=True, help="Simulated fleet size.")
@click.option("--days", default=21, show_default=True, help="Simulated days (accelerated).")
@click.option("--seed", default=42, show_default=True)
@click.option(
    "--html",
    "html_out",
    default="fleetpulse-report.html",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the HTML report goes.",
)
@click.option("--keep", is_flag=True, help="Keep the stack running after the reports (Ctrl-C stops it).")
@click.pass_context
def demo(ctx: click.Context, devices: int, days: int, seed: int, html_out: Path, keep: bool) -> None:
    """Local stack + a simulated fleet with injected regressions + the reports."""
    from fleetpulse.demo import run_demo

    run_demo(_settings(ctx), devices=devices, days=days, seed=seed, html_out=html_out, keep=keep)


@cli.command()
@click.pass_context
def sink(ctx: click.Context) -> None:
    """Own the ClickHouse store: apply migrations, write what Kafka carries, serve reads."""
    from sinks.main import run_sink

    run_sink(_settings(ctx))


@cli.command()
@click.pass_context
def collector(ctx: click.Context) -> None:
    """Serve POST /v1/events: validate, deduplicate, produce to Kafka, dead-letter bad records."""
    from ingest.main import run_collector

    run_collector(_settings(ctx))


@cli.command()
@click.pass_context
def console(ctx: click.Context) -> None:
    """Serve the analysts' web console (sign in with an analyst token; reads through the store owner)."""
    from fleetpulse.console.app import run_console

    run_console(_settings(ctx))


@cli.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Apply the ClickHouse migrations that have not run yet (idempotent)."""
    from sinks.clickhouse import open_backend
    from sinks.migrations import migrate as apply

    settings = _settings(ctx)
    backend = open_backend(settings.clickhouse_url_resolved)
    try:
        applied = apply(backend, settings)
    finally:
        backend.close()
    click.echo(f"{len(applied)} migration(s) applied" + "".join(f"\n  {name}" for name in applied))


def _parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--param")
        params[name] = value
    return params


def _output_options(func: Any) -> Any:
    from fleetpulse.reports.cli import output_options

    for option in reversed(output_options()):
        func = option(func)
    return func


@cli.command()
@click.argument("query")
@click.option("--param", "-p", multiple=True, help="Bind {NAME:Type} in QUERY: NAME=VALUE (repeatable).")
@_output_options
@click.option("--tenant", default="", help="Read as this tenant (default: the only configured one).")
@click.pass_context
def sql(ctx: click.Context, /, query: str, param: tuple[str, ...], tenant: str, **out: Any) -> None:
    """Run one SELECT against ClickHouse as one tenant (through the running stack when there is one).

    ClickHouse scopes every table to the tenant; SETTINGS, table functions and multiple
    statements are refused (docs/security.md).
    """
    from fleetpulse.reports.tenancy import resolve_tenant_cli
    from fleetpulse.table import render_table
    from sinks.clickhouse import ClickHouseError
    from sinks.reader import QueryError, open_reader
    from sinks.scope import ScopeError

    settings = _settings(ctx)
    reader = open_reader(settings, tenant=resolve_tenant_cli(settings, tenant))
    try:
        rows = reader.query_json(query, _parse_params(param))
    except (QueryError, ClickHouseError, ScopeError) as exc:
        raise click.ClickException(str(exc)) from exc  # the analyst's mistake: one line, no traceback
    finally:
        reader.close()
    from fleetpulse.reports.cli import emit

    emit(rows, lambda: rows, lambda: render_table(rows), out)  # --format json: the rows as one list


@cli.group()
def schemas() -> None:
    """The event contract."""


@schemas.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schemas_export(directory: Path) -> None:
    """Write one JSON Schema per event type into DIRECTORY."""
    from schemas.export import export_json_schemas

    for path in export_json_schemas(directory):
        click.echo(str(path))


def _register_subcommands() -> None:
    # imported here, not at the top: each package stays importable without the CLI
    from bench.cli import bench
    from fleetpulse.reports.cli import regressions, report
    from fleetpulse.reports.cli_scores import scores
    from ingest.replay import replay_dlq
    from processors.cli import baseline, process
    from simulator.cli import simulate

    cli.add_command(report)
    cli.add_command(regressions)
    cli.add_command(simulate)
    cli.add_command(replay_dlq)
    cli.add_command(process)
    cli.add_command(baseline)
    cli.add_command(bench)
    cli.add_command(scores)  # issue 18: daily Endpoint analytics scores


_register_subcommands()


def main() -> None:
    cli(prog_name="fleetpulse")


if __name__ == "__main__":
    main()
