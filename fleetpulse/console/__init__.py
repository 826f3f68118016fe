"""The analysts' web console: Endpoint analytics' pages over fleetpulse's reports (docs/console.md).

``fleetpulse console`` (also started by ``fleetpulse up``) serves server-rendered pages
(jinja2 templates, Apache ECharts charts vendored by ./dev) on loopback; sign-in by analyst
token (fleetpulse/access.py); every read goes through the store owner with the caller's token.
"""
