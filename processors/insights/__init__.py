"""The rest of Endpoint analytics as pure functions: plain data in, plain data out.

Startup processes, resource performance, battery health, work from anywhere, anomalies, the
insights with the points each would add, and the overall score (docs/analytics.md §9–§15).
The per-device inputs come from ClickHouse (fleetpulse/reports/, one SQL module per report);
every constant is in :mod:`processors.insights.config`.
"""
