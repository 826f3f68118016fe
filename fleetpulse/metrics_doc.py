"""Every metric of every fleetpulse process, as markdown: ``python -m fleetpulse.metrics_doc``.

The metric modules (``ingest/metrics.py``, ``processors/metrics.py``, ``sinks/metrics.py``) each
declare one frozen dataclass with a ``create(registry)`` class method. This module builds each
on a fresh ``CollectorRegistry`` and describes what it registered: exposed name(s), type, labels
and help string, plus the recording rules of ``deploy/prometheus/rules/``. ``docs/metrics.md`` is
this command's output (a test checks it is up to date); the dashboard test uses
:func:`exposed_names` to check that every PromQL name exists.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

ROOT = Path(__file__).resolve().parents[1]
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"

#: component -> module that declares its metrics
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("collector", "ingest.metrics"),
    ("processors", "processors.metrics"),
    ("sink", "sinks.metrics"),
)

_SUFFIXES: dict[str, tuple[str, ...]] = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "enum": ("",),
}


@dataclass(frozen=True, slots=True)
class MetricDoc:
    """One declared metric: family name, type, label names, help string and meaning."""

    component: str
    name: str
    type: str
    labels: tuple[str, ...]
    help: str  # the HELP line
    meaning: str  # the declaring dataclass's one-line comment (the help string without one)

    @property
    def exposed(self) -> tuple[str, ...]:
        """The sample names Prometheus scrapes for it (``_total``, ``_bucket``… included)."""
        return tuple(self.name + suffix for suffix in _SUFFIXES.get(self.type, ("",)))

    @property
    def query_name(self) -> str:
        """The name one queries: ``x_total`` for a counter, ``x_bucket`` for a histogram."""
        return {"counter": self.name + "_total", "histogram": self.name + "_bucket"}.get(self.type, self.name)


_FIELD_COMMENT = re.compile(r"^\s+(\w+):\s*[\w\[\], .|]+?\s+#\s*(.+?)\s*$", re.MULTILINE)


def _field_comments(cls: type) -> dict[str, str]:
    """``field -> one-line meaning`` from the dataclass's ``name: Type  # meaning`` lines."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    return dict(_FIELD_COMMENT.findall(source))


def _factories(module: ModuleType) -> Iterator[tuple[type, Callable[[CollectorRegistry], Any]]]:
    """``(dataclass, factory)`` pairs: a dataclass's ``create(registry)`` class method, or a module
    function of one ``registry`` parameter (``build_metrics(registry)``) returning a dataclass."""
    for _name, cls in inspect.getmembers(module, inspect.isclass):
        create = getattr(cls, "create", None)
        if cls.__module__ == module.__name__ and dataclasses.is_dataclass(cls) and create is not None:
            yield cls, create
    for _name, func in inspect.getmembers(module, inspect.isfunction):
        if func.__module__ == module.__name__ and list(inspect.signature(func).parameters) == ["registry"]:
            returned = inspect.get_annotations(func, eval_str=True).get("return")
            if isinstance(returned, type) and dataclasses.is_dataclass(returned):
                yield returned, func


def _metric_objects(module: ModuleType) -> Iterator[tuple[MetricWrapperBase, str]]:
    """Build every metrics dataclass of ``module`` on a fresh registry; yield ``(metric, meaning)``."""
    for cls, create in _factories(module):
        comments = _field_comments(cls)
        built = create(CollectorRegistry())
        for field in dataclasses.fields(built):
            value = getattr(built, field.name)
            if isinstance(value, MetricWrapperBase):
                yield value, comments.get(field.name, "")


def component_metrics(component: str, module_name: str) -> list[MetricDoc]:
    """The metrics one component declares, sorted by name."""
    module = importlib.import_module(module_name)
    docs = [
        MetricDoc(
            component=component,
            name=metric._name,
            type=metric._type or "untyped",
            labels=tuple(metric._labelnames),
            help=metric._documentation,
            meaning=meaning or metric._documentation,
        )
        for metric, meaning in _metric_objects(module)
    ]
    return sorted(docs, key=lambda d: d.name)


def available_components() -> list[tuple[str, str, list[MetricDoc] | None]]:
    """``(component, module, metrics)``; ``metrics`` is None when the module does not exist yet."""
    result: list[tuple[str, str, list[MetricDoc] | None]] = []
    for component, module_name in COMPONENTS:
        try:
            result.append((component, module_name, component_metrics(component, module_name)))
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            result.append((component, module_name, None))
    return result


def all_metrics() -> list[MetricDoc]:
    return [m for _c, _mod, metrics in available_components() for m in metrics or []]


def recording_rules(rules_dir: Path = RULES_DIR) -> list[tuple[str, str]]:
    """``(record name, expression)`` of every recording rule in ``deploy/prometheus/rules``."""
    found: list[tuple[str, str]] = []
    for path in sorted(rules_dir.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    found.append((str(rule["record"]), " ".join(str(rule["expr"]).split())))
    return found


def exposed_names() -> set[str]:
    """Every series name a query may use: exposed metric names plus recording rules."""
    names = {name for metric in all_metrics() for name in metric.exposed}
    names.update(record for record, _expr in recording_rules())
    return names


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    """The whole of ``docs/metrics.md``."""
    lines = [
        "# Metrics",
        "",
        "<!-- generated by `python -m fleetpulse.metrics_doc > docs/metrics.md`; do not edit by hand -->",
        "",
        "Every fleetpulse process serves `GET /metrics` (collector `:8080`, processors `:8081`, sink",
        "`:8082` by default). Metrics are declared once per component, in the module named below, on an",
        "injected registry; labels are bounded sets (never a device id). The *query as* column is the",
        "name to use in PromQL: counters gain `_total`, histograms expose `_bucket`, `_count` and `_sum`.",
        "Alerts and runbooks: `docs/operations.md`; rules: `deploy/prometheus/rules/fleetpulse.yml`.",
    ]
    for component, module_name, metrics in available_components():
        lines += ["", f"## {component} (`{module_name.replace('.', '/')}.py`)", ""]
        if metrics is None:
            lines.append(f"`{module_name}` does not exist yet; regenerate this file once it does.")
            continue
        lines += ["| metric | type | labels | query as | meaning |", "|---|---|---|---|---|"]
        for m in metrics:
            labels = ", ".join(f"`{label}`" for label in m.labels) or "—"
            lines.append(f"| `{m.name}` | {m.type} | {labels} | `{m.query_name}` | {_cell(m.meaning)} |")
    lines += [
        "",
        "## Recording rules (`deploy/prometheus/rules/fleetpulse.yml`)",
        "",
        "| series | expression |",
        "|---|---|",
    ]
    lines += [f"| `{record}` | `{_cell(expr)}` |" for record, expr in recording_rules()]
    return "\n".join(lines) + "\n"


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
