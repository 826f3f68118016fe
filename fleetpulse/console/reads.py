"""How the console reads: through the store owner's ``POST /v1/query``, as the signed-in caller.

The console holds no credential of its own: every read carries the caller's token
(``Authorization: Bearer``) and the tenant :func:`fleetpulse.access.authorize` gave it, so the
store owner (sinks/serve.py) authorizes and scopes the read exactly as it would the CLI's. A
:class:`CallerReader` is the :class:`sinks.reader.Reader` the report builders take.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import orjson

from fleetpulse.runfile import read_endpoints
from fleetpulse.settings import Settings
from sinks.reader import QueryError


class StoreUnavailableError(RuntimeError):
    """No store owner to read through (the stack is not running, or it does not answer)."""


def store_url(settings: Settings) -> str:
    """``console_sink_url``, else the running stack's sink recorded in ``DATA_DIR``."""
    url = settings.console_sink_url or read_endpoints(settings.data_dir).get("sink", "")
    if not url:
        raise StoreUnavailableError(
            "no store owner: start the stack (`fleetpulse up`) or set FLEETPULSE_CONSOLE_SINK_URL"
        )
    return url.rstrip("/")


class CallerReader:
    """Reads as one caller (token) for one tenant; each query is one HTTP request."""

    def __init__(self, base_url: str, token: str, tenant: str, timeout_s: float) -> None:
        self.base_url = base_url
        self.tenant = tenant
        self.timeout_s = timeout_s
        self._headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def query_json(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        body = orjson.dumps({"sql": sql, "params": params or {}, "tenant": self.tenant})
        request = urllib.request.Request(
            f"{self.base_url}/v1/query", data=body, method="POST", headers=self._headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                doc = orjson.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise QueryError(_error_text(exc)) from exc
        except OSError as exc:
            raise StoreUnavailableError(f"the store owner at {self.base_url} does not answer: {exc}") from exc
        columns: list[str] = doc["columns"]
        return [dict(zip(columns, row, strict=True)) for row in doc["rows"]]

    def close(self) -> None:
        """Nothing to release."""


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        return str(orjson.loads(exc.read()).get("error", exc))
    except (orjson.JSONDecodeError, AttributeError):
        return f"HTTP {exc.code}"
