"""CLI: ``fleetpulse report startup|models|devices|restarts|apps|device ID|html``, ``fleetpulse regressions``.

Register in fleetpulse/cli.py with ``cli.add_command(report)`` and ``cli.add_command(regressions)``;
both read the frozen :class:`Settings` from ``ctx.obj``. ``--format json`` (or ``--json``) prints
one JSON document; ``csv`` / ``parquet`` write one of the report's tables (``--table``,
fleetpulse/reports/formats.py) to stdout or ``--out FILE``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from fleetpulse.reports import formats
from fleetpulse.reports.build import DEVICE_REPORT, REPORTS, make_filters
from fleetpulse.reports.ea import EA_COMMANDS, EA_REPORTS
from fleetpulse.reports.params import GROUPS, Filters
from fleetpulse.reports.tenancy import TENANT_HELP, resolve_tenant_cli
from fleetpulse.reports.text import RENDERERS
from fleetpulse.reports.text_ea import EA_RENDERERS
from fleetpulse.settings import Settings
from sinks.reader import QueryError, Reader, open_reader

F = TypeVar("F", bound=Callable[..., Any])


def _settings(ctx: click.Context) -> Settings:
    settings = ctx.find_object(Settings)
    if settings is None:
        raise click.UsageError("no settings in the click context (run through `fleetpulse`)")
    return settings


def filter_options(func: F) -> F:
    """The options every report takes (all values become bound query parameters)."""
    options = [
        click.option(
            "--since", help="Start (inclusive): ISO date/time, 'now', or 14d/36h/90m before --until."
        ),
        click.option("--until", help="End (exclusive); default: just after the newest event in the store."),
        click.option("--tenant", default="", help=TENANT_HELP),
        click.option("--model", default="", help="Only this model ('Make/Model' or the model name)."),
        click.option(
            "--os-build", "os_build", default="", help="Only this OS build (10.0.22631.4169 or 22631)."
        ),
        click.option("--app", default="", help="Apps: only this app; other reports: devices that used it."),
        click.option(
            "--group", default="", help=f"Only devices of a census group KIND:VALUE ({', '.join(GROUPS)})."
        ),
        click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100_000), help="Rows."),
        *output_options(),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def output_options() -> list[Callable[[F], F]]:
    """``--format``, its ``--json`` synonym, ``--table`` and ``--out`` (reports and ``sql``)."""
    return [
        click.option(
            "--format", "fmt", type=click.Choice(formats.FORMATS), default="table", show_default=True,
            help="table: for people; json: the whole document; csv / parquet: one table (--table).",
        ),
        click.option("--json", "as_json", is_flag=True, help="Same as --format json."),
        click.option("--table", "table", default=None, help="csv / parquet: which table of the report."),
        click.option(
            "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
            help="Write there instead of stdout (parquet to a terminal needs it).",
        ),
    ]  # fmt: skip


def emit(
    doc: Any, rows: Callable[[], list[dict[str, Any]]], text: Callable[[], str], opts: dict[str, Any]
) -> None:
    """Print or write the output in the chosen format (``rows``/``text`` are only built when needed)."""
    fmt = "json" if opts["as_json"] else opts["fmt"]
    out: Path | None = opts["out_path"]
    data: str | bytes
    if fmt == "json":
        data = json.dumps(doc, default=str) + "\n"
    elif fmt == "csv":
        data = formats.to_csv(rows())
    elif fmt == "parquet":
        data = formats.to_parquet(rows())
        if out is None and click.get_binary_stream("stdout").isatty():
            raise click.UsageError("--format parquet writes binary: give --out FILE or redirect stdout")
    else:
        data = text() + "\n"
    if out is not None:
        out.write_bytes(data if isinstance(data, bytes) else data.encode())
    elif isinstance(data, bytes):
        click.get_binary_stream("stdout").write(data)
    else:
        click.echo(data, nl=False)


def _filters(reader: Reader, settings: Settings, opts: dict[str, Any]) -> Filters:
    try:
        return make_filters(
            reader,
            since=opts["since"],
            until=opts["until"],
            tenant=opts["tenant"],
            model=opts["model"],
            os_build=opts["os_build"],
            app=opts["app"],
            limit=opts["limit"],
            database=settings.clickhouse_database,
            group=opts["group"],
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since/--until/--group") from exc


def _open(settings: Settings, opts: dict[str, Any]) -> Reader:
    """A reader scoped to the resolved tenant (which also becomes the report's tenant filter)."""
    opts["tenant"] = resolve_tenant_cli(settings, opts["tenant"])
    return open_reader(settings, tenant=opts["tenant"])


def _run(ctx: click.Context, name: str, opts: dict[str, Any], **kwargs: Any) -> None:
    settings = _settings(ctx)
    reader = _open(settings, opts)
    try:
        flt = _filters(reader, settings, opts)
        builder = DEVICE_REPORT if name == "device" else REPORTS.get(name) or EA_REPORTS[name]
        doc = builder(reader, flt, **kwargs)
    except QueryError as exc:
        raise click.ClickException(str(exc)) from exc  # one line, no traceback
    finally:
        reader.close()
    try:
        emit(doc, lambda: formats.table_rows(doc, name, opts["table"]), lambda: RENDERERS[name](doc), opts)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--table") from exc


@click.group("report")
def report() -> None:
    """Analyst reports (startup, models, devices, restarts, apps) and a static HTML page."""


def _make(name: str, doc: str) -> None:
    @filter_options
    @click.pass_context
    def command(ctx: click.Context, /, **opts: Any) -> None:
        _run(ctx, name, opts)

    command.__doc__ = doc
    report.command(name)(command)


_make("startup", "Startup performance: boot / sign-in / startup scores, phase medians and p90s.")
_make("models", "Model performance: scores and boot / sign-in percentiles per make/model, worst first.")
_make("devices", "The slowest devices by median core boot, with model and OS build.")
_make("restarts", "Restart frequency: categories, shares, abnormal share, Stop errors per device.")
_make("apps", "Application reliability: top crashing apps, hangs, usage, MTTF, scores.")

# -- issue 18: the rest of Endpoint analytics (fleetpulse/reports/ea.py); they take settings.insights
RENDERERS.update(EA_RENDERERS)


def _make_ea(name: str, doc: str) -> None:
    @filter_options
    @click.pass_context
    def command(ctx: click.Context, /, **opts: Any) -> None:
        _run(ctx, name, opts, cfg=_settings(ctx).insights)

    command.__doc__ = doc
    report.command(name)(command)


for _name, _doc in EA_COMMANDS:
    _make_ea(_name, _doc)


@report.command("device")
@click.argument("device_id")
@filter_options
@click.pass_context
def report_device(ctx: click.Context, /, device_id: str, **opts: Any) -> None:
    """One device: census, scores against the fleet, apps, and its timeline of events."""
    _run(ctx, "device", opts, device_id=device_id)


@report.command("html")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@filter_options
@click.pass_context
def report_html(ctx: click.Context, /, out: Path, **opts: Any) -> None:
    """Write a self-contained HTML report (inline CSS and SVG charts) to OUT."""
    from fleetpulse.reports.html import build_html_report

    settings = _settings(ctx)
    reader = _open(settings, opts)
    try:
        flt = _filters(reader, settings, opts)
        page = build_html_report(reader, flt)
    finally:
        reader.close()
    out.write_text(page, encoding="utf-8")
    if opts["as_json"] or opts["fmt"] == "json":
        click.echo(json.dumps({"path": str(out), "bytes": len(page.encode())}))
    else:
        click.echo(f"wrote {out} ({len(page.encode()):,} bytes)")


@click.command("regressions")
@filter_options
@click.option("--all", "include_closed", is_flag=True, help="Include closed regressions.")
@click.pass_context
def regressions(ctx: click.Context, /, include_closed: bool, **opts: Any) -> None:
    """Open regressions: scope, metric, baseline vs current, change, p-value, start, likely cause."""
    _run(ctx, "regressions", opts, include_closed=include_closed)
