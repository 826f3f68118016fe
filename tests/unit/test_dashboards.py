"""Grafana dashboards: valid JSON whose queries name only things that exist.

* ``operations.json`` (Prometheus, uid ``prometheus``): every PromQL expression parses (promtool
  checks it as a recording rule) and every series name in it is a metric the metric modules
  declare (built on a fresh registry, with ``_total``/``_bucket``/… suffixes) or a recording rule.
* ``analytics.json`` (ClickHouse, uid ``clickhouse``): every SQL names only tables the migrations
  create, and every bare identifier is a column of those tables or an alias the SQL defines.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetpulse.metrics_doc import exposed_names
from fleetpulse.settings import load_settings
from sinks.migrations import MigrationContext, discover

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
OPERATIONS = DASHBOARDS / "operations.json"
ANALYTICS = DASHBOARDS / "analytics.json"
DATASOURCES = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "fleetpulse.yml"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def targets(path: Path) -> list[tuple[str, dict[str, Any]]]:
    return [(panel["title"], target) for panel in panels(load(path)) for target in panel["targets"]]


# -- both dashboards --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [OPERATIONS, ANALYTICS], ids=lambda p: p.name)
def test_dashboard_is_valid(path: Path) -> None:
    dashboard = load(path)
    assert dashboard["uid"]
    assert dashboard["title"].startswith("fleetpulse")
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    provisioned = {ds["uid"]: ds["type"] for ds in yaml.safe_load(DATASOURCES.read_text())["datasources"]}
    expected = "prometheus" if path == OPERATIONS else "clickhouse"
    for panel in panels(dashboard):
        assert panel["targets"], f"{panel['title']}: no query"
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        for ds in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
            assert ds["uid"] == expected, f"{panel['title']}: datasource {ds}"
            assert provisioned[ds["uid"]] == ds["type"]


# -- operations: PromQL ------------------------------------------------------------------------------

_PROMQL_KEYWORDS = {"and", "or", "unless", "offset", "bool", "inf", "nan"}
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def promql_names(expr: str) -> set[str]:
    """Series names in ``expr``: identifiers that are not functions, keywords or label names."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings (label values)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = _GROUPING.sub("", text)  # by (...), on (...)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        rest = text[match.end() :].lstrip()
        word = match.group(0)
        if rest.startswith("(") or word.lower() in _PROMQL_KEYWORDS:
            continue
        if match.start() > 0 and (text[match.start() - 1].isdigit() or text[match.start() - 1] == "."):
            continue  # the exponent or unit of a number (1e3, 5m)
        names.add(word)
    return names


def prom_exprs() -> list[tuple[str, str]]:
    return [(title, target["expr"]) for title, target in targets(OPERATIONS)]


def test_promql_name_extraction() -> None:
    expr = 'histogram_quantile(0.99, sum by (le, table) (rate(x_bucket{job=~"a-.*"}[5m]))) > on() y:z'
    assert promql_names(expr) == {"x_bucket", "y:z"}


def test_every_promql_name_exists() -> None:
    known = exposed_names() | {"up"}
    unknown = {
        (title, name) for title, expr in prom_exprs() for name in promql_names(expr) if name not in known
    }
    assert unknown == set(), f"panels query series no metric module declares: {sorted(unknown)}"


def test_every_promql_expression_parses(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool missing (./dev test installs Debian's prometheus package)")
    rules = [
        {"record": f"dashboard:expr_{i}", "expr": expr.replace("$__rate_interval", "5m")}
        for i, (_title, expr) in enumerate(prom_exprs())
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    proc = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_operations_covers_the_pipeline() -> None:
    used = {name for _title, expr in prom_exprs() for name in promql_names(expr)}
    required = {
        "fleetpulse:collector_records_accepted:rate5m",
        "fleetpulse:collector_records_rejected:rate5m",
        "fleetpulse:collector_dlq_ratio:ratio10m",
        "fleetpulse:processor_consumer_lag:sum",
        "fleetpulse:sink_consumer_lag:sum",
        "fleetpulse:event_to_queryable_seconds:p50_5m",
        "fleetpulse:event_to_queryable_seconds:p99_5m",
        "fleetpulse:sink_rows_inserted:rate5m",
        "fleetpulse_sink_insert_seconds_bucket",
        "fleetpulse_sink_paused",
        "fleetpulse_processor_agent_up",
        "fleetpulse_processor_agent_last_progress_timestamp_seconds",
        "fleetpulse_sink_insert_failures_total",
        "fleetpulse_collector_delivery_failures_total",
    }
    assert required <= used, f"missing: {sorted(required - used)}"


# -- analytics: ClickHouse SQL -----------------------------------------------------------------------

_CREATE = re.compile(r"CREATE (TABLE|VIEW) IF NOT EXISTS \w+\.(\w+)\s*(.*)", re.DOTALL)
_SQL_KEYWORDS = {
    "select", "from", "where", "and", "or", "not", "group", "by", "order", "having", "limit", "as",
    "with", "desc", "asc", "distinct", "final", "in", "is", "null", "on", "join", "left", "inner",
    "using", "case", "when", "then", "else", "end", "between", "like", "true", "false",
}  # fmt: skip


def schema() -> dict[str, set[str]]:
    """table or view -> its columns, from the DDL the migrations produce."""
    ctx = MigrationContext.from_settings(load_settings())
    tables: dict[str, set[str]] = {}
    for migration in discover():
        for statement in migration.statements(ctx):
            match = _CREATE.match(statement.strip())
            if match is None:
                continue
            kind, name, body = match.groups()
            if kind == "TABLE":
                columns_block = body.split("\nENGINE")[0]
                tables[name] = set(re.findall(r"^\s{4}(\w+)\s", columns_block, re.MULTILINE))
            else:
                tables[name] = set(re.findall(r"\bAS\s+(\w+)", body))
    return tables


def sql_identifiers(sql: str) -> tuple[set[str], set[str], set[str]]:
    """``(tables, aliases, bare identifiers)`` of one query; functions and keywords left out."""
    text = re.sub(r"'(?:[^'\\]|\\.)*'", "''", sql)  # string literals ('${tenant}', 'open')
    tables = set(re.findall(r"\bfleetpulse\.(\w+)", text))
    text = re.sub(r"\bfleetpulse\.\w+", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana macros and variables
    aliases = set(re.findall(r"\bAS\s+(\w+)", text, re.IGNORECASE))
    aliases |= set(re.findall(r"\b(\w+)\s+AS\s*\(", text, re.IGNORECASE))  # WITH name AS (...)
    bare = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_]\w*)", text):
        word = match.group(1)
        if text[match.end() :].lstrip().startswith("(") or word.lower() in _SQL_KEYWORDS:
            continue
        bare.add(word)
    return tables, aliases, bare - aliases


def sql_queries() -> list[tuple[str, str]]:
    found = [(title, target["rawSql"]) for title, target in targets(ANALYTICS)]
    for variable in load(ANALYTICS)["templating"]["list"]:
        if variable["type"] == "query":
            found.append((f"variable {variable['name']}", variable["query"]))
    return found


def test_sql_identifier_extraction() -> None:
    tables, aliases, bare = sql_identifiers(
        "WITH d AS (SELECT device_id, median(core_boot_ms) AS m FROM fleetpulse.boot_events "
        "WHERE tenant = '${tenant}' AND $__timeFilter(event_time)) SELECT avg(m) AS s FROM d"
    )
    assert tables == {"boot_events"}
    assert aliases == {"d", "m", "s"}
    assert bare == {"device_id", "core_boot_ms", "tenant", "event_time"}


def test_schema_parses_the_migrations() -> None:
    tables = schema()
    assert {"boot_events", "logon_events", "app_crashes", "regressions", "aggregates"} <= set(tables)
    assert {"tenant", "device_id", "core_boot_ms", "gp_boot_ms", "dev_model"} <= tables["boot_events"]
    assert {"status", "metric", "scope_type", "causes"} <= tables["regressions"]


@pytest.mark.parametrize(("title", "sql"), sql_queries(), ids=[t for t, _ in sql_queries()])
def test_every_sql_names_existing_tables_and_columns(title: str, sql: str) -> None:
    tables = schema()
    used_tables, _aliases, bare = sql_identifiers(sql)
    assert used_tables, f"{title}: no fleetpulse.<table> in the query"
    assert used_tables <= set(tables), f"{title}: unknown tables {sorted(used_tables - set(tables))}"
    columns = set().union(*(tables[t] for t in used_tables))
    assert bare <= columns, f"{title}: not columns of {sorted(used_tables)}: {sorted(bare - columns)}"


def test_analytics_covers_the_reports() -> None:
    sqls = dict(sql_queries())
    text = "\n".join(sqls.values())
    for table in ("boot_events", "logon_events", "app_crashes"):
        assert f"fleetpulse.{table}" in text
    assert "fleetpulse.regressions FINAL" in text
    assert any("startup_score" in sql for sql in sqls.values())
    assert any("dev_model" in sql and "quantile" in sql for sql in sqls.values())
