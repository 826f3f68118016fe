"""Who may read what: analyst tokens, each bound to one tenant and one role (docs/security.md).

Every read surface (the sink's ``POST /v1/query``, the console, the CLI through them) takes a
bearer token and asks :meth:`TokenRing.authenticate` for its :class:`Principal`, then
:func:`authorize` for the tenant it acts as. Roles mirror Endpoint analytics' read/write vs
read-only split: ``reader`` sees reports, ``sql`` and the read API; ``admin`` also manages
baselines and replays the DLQ.

Tokens are kept like the ingest API keys (:mod:`ingest.auth`): only SHA-256 digests, compared in
constant time; a configured key may be the token itself or ``sha256:<64 hex>``. The *operator*
token (written by ``fleetpulse up`` into ``DATA_DIR``) is an admin bound to no tenant: it may act
as any configured tenant a request names, still one tenant per read. An ingest API key is not a
token and authenticates nothing here.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fleetpulse.settings import Settings
from ingest.auth import configured_digest, key_digest

Role = Literal["reader", "admin"]
OPERATOR_TOKEN_FILE = "operator-token"  # in DATA_DIR, mode 0600, written by `fleetpulse up`
ROLE_RANK: dict[str, int] = {"reader": 1, "admin": 2}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: ``tenant`` is ``None`` only for the operator (any configured tenant)."""

    name: str
    role: Role
    tenant: str | None


class UnauthorizedError(Exception):
    """No credential, or one that is not a token (HTTP 401)."""


class ForbiddenError(Exception):
    """A valid token asking for another tenant or a role it does not have (HTTP 403)."""


class TokenRing:
    """``digest -> principal``, built once per process from the configured tokens."""

    def __init__(self, tokens: Mapping[str, Principal]) -> None:
        self._by_digest: dict[bytes, tuple[bytes, Principal]] = {}
        for configured, principal in tokens.items():
            digest = configured_digest(configured)
            if digest in self._by_digest:
                raise ValueError(f"two analyst tokens hash alike ({principal.name!r}): configure each once")
            self._by_digest[digest] = (digest, principal)
        self._decoy = key_digest("fleetpulse-no-such-token")

    def __len__(self) -> int:
        return len(self._by_digest)

    def authenticate(self, presented: str | None) -> Principal:
        """The principal of ``presented``; :class:`UnauthorizedError` when missing or unknown."""
        if not presented:
            raise UnauthorizedError("a bearer token is required")
        digest = key_digest(presented)
        stored, principal = self._by_digest.get(digest, (self._decoy, None))
        # constant-time comparison of the full digest, also on a miss (against a decoy)
        if hmac.compare_digest(stored, digest) and principal is not None:
            return principal
        raise UnauthorizedError("unknown token")


def authorize(principal: Principal, tenant: str | None, need: Role, configured: Collection[str]) -> str:
    """The tenant ``principal`` reads as, asking for ``tenant`` (``None``: its own) with role ``need``.

    An analyst token is bound to its tenant: naming another is :class:`ForbiddenError`, never a widening.
    The operator names any configured tenant, or gets the only one configured.
    """
    if ROLE_RANK[principal.role] < ROLE_RANK[need]:
        raise ForbiddenError(f"role {principal.role!r} may not do this (needs {need!r})")
    if principal.tenant is not None:
        if tenant is not None and tenant != principal.tenant:
            raise ForbiddenError(f"this token reads tenant {principal.tenant!r} only")
        return principal.tenant
    if tenant is None:
        if len(configured) == 1:
            return next(iter(configured))
        raise ForbiddenError(f"{len(configured)} tenants are configured: name one")
    if tenant not in configured:
        raise ForbiddenError(f"unknown tenant {tenant!r}")
    return tenant


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def ensure_operator_token(data_dir: Path) -> str:
    """The operator token of ``data_dir``, created (random, 256 bits, mode 0600) on first start."""
    path = data_dir / OPERATOR_TOKEN_FILE
    existing = read_operator_token(data_dir)
    if existing:
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    return token


def read_operator_token(data_dir: Path) -> str | None:
    """The operator token written into ``data_dir``, or ``None`` before the first ``up``."""
    try:
        return (data_dir / OPERATOR_TOKEN_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def token_ring(settings: Settings) -> TokenRing:
    """The configured analyst tokens, plus the operator token of ``settings.data_dir`` if written."""
    tokens = {
        key: Principal(name=spec.name, role=spec.role, tenant=spec.tenant)
        for key, spec in settings.analyst_tokens.items()
    }
    operator = read_operator_token(settings.data_dir)
    if operator:
        tokens[operator] = Principal(name="operator", role="admin", tenant=None)
    return TokenRing(tokens)


def cli_token(settings: Settings) -> str | None:
    """What the CLI presents: ``FLEETPULSE_TOKEN`` / ``--token``, else the operator token on disk."""
    return settings.token.get_secret_value() or read_operator_token(settings.data_dir)
