"""Request-level steps of ``POST /v1/events``: who is sending, what they send, how much.

Each step either returns its result or raises :class:`RequestError` carrying the HTTP status
and a stable reason word; nothing here looks inside a record. The body is read as a stream with
hard caps, and decompression runs as a stream too (``zlib.decompressobj`` with ``max_length``),
so a decompression bomb costs at most ``max_decoded_bytes`` of memory before it is refused.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from aiohttp import web

from fleetpulse.settings import Settings, Tenant
from ingest.auth import KeyRing
from ingest.ratelimit import RateLimiter, retry_after

MEDIA_TYPES = frozenset({"application/x-json-stream", "application/x-ndjson"})
ENCODINGS = frozenset({"", "identity", "gzip", "x-gzip", "deflate"})
_READ_CHUNK = 64 * 1024


class RequestError(Exception):
    """The whole request is refused: ``status`` (400/401/413/415) and a ``reason`` word."""

    def __init__(
        self, status: int, reason: str, detail: str = "", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {reason}: {detail}" if detail else f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.detail = detail
        self.headers = headers  # extra answer headers (Retry-After on 429)


@dataclass(frozen=True)
class BodyLimits:
    """Caps on one request body; see docs/collector.md."""

    max_body_bytes: int
    max_decoded_bytes: int
    max_expansion: int
    max_records: int

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyLimits:
        return cls(
            max_body_bytes=settings.collector_max_body_bytes,
            max_decoded_bytes=settings.collector_max_decoded_bytes,
            max_expansion=settings.collector_max_expansion,
            max_records=settings.collector_max_records,
        )


@dataclass(frozen=True)
class Body:
    """A request body read within its limits: the wire size and the decoded bytes."""

    wire_bytes: int
    decoded: bytes


def authenticate(request: web.Request, keys: KeyRing) -> Tenant:
    """The tenant named by the ``apikey`` header (digest lookup, constant-time compare), else 401."""
    key = request.headers.get("apikey", "").strip()
    if not key:
        raise RequestError(401, "missing_apikey")
    tenant = keys.lookup(key)
    if tenant is None:
        raise RequestError(401, "unknown_apikey")
    return tenant


def check_rate(limiter: RateLimiter, tenant: Tenant, records: int | None = None) -> None:
    """429 + ``Retry-After`` when the tenant's request (or, with ``records``, record) bucket is empty."""
    if records is None:
        wait, limit = limiter.take_request(tenant.name), "requests"
    else:
        wait, limit = limiter.take_records(tenant.name, records), "records"
    if wait > 0:
        raise RequestError(429, "rate_limited", limit, headers={"Retry-After": str(retry_after(wait))})


def check_media(request: web.Request) -> str:
    """Accept NDJSON only (415 otherwise); return the normalized ``Content-Encoding``."""
    media = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if media not in MEDIA_TYPES:
        raise RequestError(415, "unsupported_media_type", media or "(none)")
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ENCODINGS:
        raise RequestError(415, "unsupported_encoding", encoding)
    return "gzip" if encoding == "x-gzip" else ("" if encoding == "identity" else encoding)


class _Decoder:
    """Streaming decompression with a hard output cap; ``""`` encoding passes bytes through."""

    def __init__(self, encoding: str, cap: int) -> None:
        self.encoding = encoding
        self.cap = cap
        self.parts: list[bytes] = []
        self.size = 0
        self._obj: zlib._Decompress | None = None
        self._first = True

    def _new_obj(self, head: bytes) -> zlib._Decompress:
        if self.encoding == "gzip":
            return zlib.decompressobj(wbits=31)
        # HTTP "deflate" is zlib-wrapped (RFC 9110); 1DS agents send raw deflate. Sniff the header.
        zlib_wrapped = len(head) >= 2 and (head[0] & 0x0F) == 8 and ((head[0] << 8) | head[1]) % 31 == 0
        return zlib.decompressobj(wbits=15 if zlib_wrapped else -15)

    def _emit(self, out: bytes) -> None:
        self.size += len(out)
        if self.size > self.cap:
            raise RequestError(413, "decoded_too_large", f"> {self.cap} bytes after decompression")
        self.parts.append(out)

    def feed(self, chunk: bytes) -> None:
        if not self.encoding:
            self._emit(chunk)
            return
        data = chunk
        while data:
            if self._obj is None:
                self._obj = self._new_obj(data)
            try:
                self._emit(self._obj.decompress(data, self.cap - self.size + 1))
                while self._obj.unconsumed_tail:
                    self._emit(self._obj.decompress(self._obj.unconsumed_tail, self.cap - self.size + 1))
            except zlib.error as exc:
                raise RequestError(400, "bad_compression", str(exc)) from exc
            data = b""
            if self._obj.eof:
                data = self._obj.unused_data
                if data and self.encoding != "gzip":
                    raise RequestError(400, "bad_compression", "trailing bytes after the deflate stream")
                self._obj = None  # gzip allows concatenated members

    def finish(self) -> bytes:
        if self.encoding and self._obj is not None:
            raise RequestError(400, "bad_compression", "truncated compressed stream")
        return b"".join(self.parts)


async def read_body(request: web.Request, encoding: str, limits: BodyLimits) -> Body:
    """Read and decode the body as a stream; 413 past any cap, 400 on broken compression."""
    declared = request.content_length
    if declared is not None and declared > limits.max_body_bytes:
        raise RequestError(413, "body_too_large", f"{declared} > {limits.max_body_bytes} bytes")
    cap = limits.max_decoded_bytes
    if declared is not None and encoding:
        cap = min(cap, declared * limits.max_expansion)
    decoder = _Decoder(encoding, cap)
    wire = 0
    async for chunk in request.content.iter_chunked(_READ_CHUNK):
        wire += len(chunk)
        if wire > limits.max_body_bytes:
            raise RequestError(413, "body_too_large", f"> {limits.max_body_bytes} bytes")
        decoder.feed(chunk)
    decoded = decoder.finish()
    if encoding and len(decoded) > wire * limits.max_expansion:
        raise RequestError(413, "decoded_too_large", f"expands more than {limits.max_expansion}x")
    return Body(wire_bytes=wire, decoded=decoded)


def split_records(body: bytes, max_records: int) -> list[tuple[int, bytes]]:
    """``(line index, line)`` for each non-blank NDJSON line; 0-based physical line numbers.

    ``\\r\\n`` endings are accepted; blank lines are skipped but keep their number so the index
    always points into ``body.split(b"\\n")``. 400 when nothing is left, 413 past ``max_records``.
    """
    records: list[tuple[int, bytes]] = []
    for index, line in enumerate(body.split(b"\n")):
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip(b" \t\r"):
            continue
        records.append((index, line))
        if len(records) > max_records:
            raise RequestError(413, "too_many_records", f"> {max_records} records")
    if not records:
        raise RequestError(400, "empty_body")
    return records
