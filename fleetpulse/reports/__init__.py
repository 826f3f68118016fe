"""Analyst reports drawn from ClickHouse: startup, models, devices, restarts, apps, regressions, HTML.

Each report module holds its SQL (bound parameters only) and a pure ``shape_*`` function turning
rows into the report's JSON document; :mod:`fleetpulse.reports.text` renders those for the
terminal and :mod:`fleetpulse.reports.html` as a self-contained page. docs/reports.md lists
every figure, its formula and its source table.
"""
