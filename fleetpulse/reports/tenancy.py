"""Which tenant a read is for: every report and ``fleetpulse sql`` read as exactly one tenant.

``--tenant NAME`` names a configured tenant (``FLEETPULSE_TENANTS``); without it the only
configured tenant is used, and with several configured the command refuses to guess. The name
then scopes every query in ClickHouse (sinks/scope.py), not in the SQL text.
"""

from __future__ import annotations

import click

from fleetpulse.settings import Settings
from sinks.scope import ScopeError, check_tenant_name


def tenant_names(settings: Settings) -> list[str]:
    return sorted({t.name for t in settings.tenants.values()})


def resolve_tenant(settings: Settings, name: str | None) -> str:
    """The tenant to read as; :class:`ScopeError` when it cannot be decided or is unknown."""
    names = tenant_names(settings)
    if name:
        return check_tenant_name(name, names)
    if len(names) == 1:
        return names[0]
    if not names:
        raise ScopeError("no tenant is configured (FLEETPULSE_TENANTS)")
    raise ScopeError(f"{len(names)} tenants are configured ({', '.join(names)}): choose one with --tenant")


def resolve_tenant_cli(settings: Settings, name: str | None) -> str:
    """:func:`resolve_tenant` for click commands: a usage error instead of a traceback."""
    try:
        return resolve_tenant(settings, name)
    except ScopeError as exc:
        raise click.BadParameter(str(exc), param_hint="--tenant") from exc


TENANT_HELP = "Read as this tenant (default: the only configured one); ClickHouse enforces it."
