"""authenticate step: API keys kept as SHA-256 digests, compared in constant time.

:class:`KeyRing` is built once at collector start from ``settings.tenants``. A key of that map is
either the API key itself (the demo's ``TENANTS`` format) or ``sha256:<64 hex>``, its digest
(what production should configure, so the plaintext never reaches the collector's environment).
The ring keeps only ``digest -> tenant``; a presented key is hashed and the stored digest is
compared with :func:`hmac.compare_digest`.

Why plain SHA-256 and not scrypt: API keys are random tokens (>= 128 bits; ``secrets.token_urlsafe(32)``),
not passwords, so a slow hash adds no protection against guessing while it would cost ~50 ms of
CPU per request (a denial-of-service lever). The dictionary lookup by digest leaks timing about
the *digest* of the presented key only, which says nothing about a stored key (pre-image resistance).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

from fleetpulse.settings import Tenant

HASH_PREFIX = "sha256:"
_HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def key_digest(api_key: str) -> bytes:
    """SHA-256 of the key's UTF-8 bytes."""
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).digest()


def hashed_form(api_key: str) -> str:
    """``sha256:<hex>``: what to put in ``FLEETPULSE_TENANTS`` instead of the key itself."""
    return HASH_PREFIX + key_digest(api_key).hex()


def configured_digest(configured: str) -> bytes:
    """The digest a ``TENANTS`` key stands for: ``sha256:<hex>`` as given, else hash the plaintext."""
    if configured.startswith(HASH_PREFIX):
        hex_part = configured[len(HASH_PREFIX) :].lower()
        if not _HEX_DIGEST.match(hex_part):
            raise ValueError("a 'sha256:' tenant key must be followed by 64 hex digits")
        return bytes.fromhex(hex_part)
    return key_digest(configured)


class KeyRing:
    """``digest -> tenant``; :meth:`lookup` answers the tenant of a presented key or ``None``."""

    def __init__(self, tenants: Mapping[str, Tenant]) -> None:
        self._by_digest: dict[bytes, tuple[bytes, Tenant]] = {}
        for configured, tenant in tenants.items():
            digest = configured_digest(configured)
            if digest in self._by_digest:
                raise ValueError(f"two tenant keys hash alike ({tenant.name!r}): configure each key once")
            self._by_digest[digest] = (digest, tenant)
        self._decoy = key_digest("fleetpulse-no-such-key")

    def __len__(self) -> int:
        return len(self._by_digest)

    def lookup(self, api_key: str) -> Tenant | None:
        digest = key_digest(api_key)
        stored, tenant = self._by_digest.get(digest, (self._decoy, None))
        # constant-time comparison of the full digest, also on a miss (against a decoy)
        if hmac.compare_digest(stored, digest) and tenant is not None:
            return tenant
        return None
