"""Pure steps of ``fleetpulse replay-dlq``: one DLQ record -> a :class:`Verdict`, and the policy.

    read_headers -> filter by --reason -> recover (raw line + IngestContext from the headers)
    -> classify_one (check_size -> decode -> check_tenant, the collector's own chain)
    -> duplicate? -> stamp_replayed (ext.ingest as first stamped, plus "replayed": true)

A DLQ record comes from the collector (value = the raw line; headers ``reason``, ``tenant``,
``line``, ``received_at``, ``truncated``) or from the sink (value = the stamped events-topic
message; headers ``reason``, ``stage=sink``, ``origin_topic/partition/offset``). For a sink record
the tenant, receive time and client address are read back from its ``ext.ingest``, which is
removed before decoding (a client record may not carry it). Nothing here touches Kafka or a clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson

from fleetpulse.settings import Tenant
from ingest import batch as steps
from ingest.dedup import DedupKey

Policy = Literal["skip-invalid", "stop"]
POLICIES: tuple[Policy, ...] = ("skip-invalid", "stop")
Kind = Literal["replay", "failed", "filtered", "duplicate", "foreign"]


@dataclass(frozen=True)
class Verdict:
    """What to do with one DLQ record; ``reason`` is the failure reason or the DLQ reason."""

    kind: Kind
    reason: str
    origin: str = "collector"
    keys: tuple[DedupKey, ...] = ()
    value: bytes = b""  # the events-topic message to produce (kind "replay")
    key: bytes = b""  # its Kafka key: the device id


@dataclass(frozen=True)
class Recovered:
    """The raw line and the request context of its first arrival."""

    line: bytes
    ctx: steps.IngestContext
    origin: Literal["collector", "sink"]


def read_headers(pairs: Sequence[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """Kafka headers -> ``{name: text}`` (the last value wins; undecodable bytes replaced)."""
    return {name: (value or b"").decode("utf-8", "replace") for name, value in pairs or ()}


def parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def recover(
    headers: Mapping[str, str], value: bytes, tenants: Mapping[str, Tenant], events_topic: str
) -> Recovered | Verdict:
    """The line to replay and its original context, or a ``failed``/``foreign`` verdict."""
    if "origin_topic" not in headers:  # the collector's DLQ copy
        if headers.get("truncated") == "1":
            return Verdict("failed", "truncated")
        text, name = headers.get("received_at", ""), headers.get("tenant", "")
        client_ip = ""  # the collector's DLQ headers do not keep the peer address
        line = value
        origin: Literal["collector", "sink"] = "collector"
    else:
        if headers["origin_topic"] != events_topic:  # aggregates/regressions: not a collector record
            return Verdict("foreign", headers["origin_topic"], "sink")
        try:
            record = orjson.loads(value)
            ingest = record["ext"].pop("ingest")
            text, name, client_ip = str(ingest["time"]), str(ingest["tenant"]), str(ingest["clientIp"])
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return Verdict("failed", "no_context", "sink")
        line = orjson.dumps(record)
        origin = "sink"
    received_at = parse_time(text)
    if received_at is None or not name:
        return Verdict("failed", "no_context", origin)
    tenant = next((t for t in tenants.values() if t.name == name), None)
    if tenant is None:
        return Verdict("failed", "unknown_tenant", origin)
    return Recovered(line, steps.IngestContext(tenant, received_at, client_ip), origin)


def stamp_replayed(event_raw: dict[str, Any], ctx: steps.IngestContext) -> bytes:
    """``ext.ingest`` exactly as the collector stamps it (first receive time), plus ``replayed``."""
    stamped = steps.stamp_ingest(event_raw, ctx)
    stamped["ext"]["ingest"]["replayed"] = True  # stamp_ingest built fresh dicts: no aliasing
    return orjson.dumps(stamped)


def judge(
    headers: Mapping[str, str],
    value: bytes,
    *,
    tenants: Mapping[str, Tenant],
    events_topic: str,
    max_record_bytes: int,
    reasons: frozenset[str],
    is_duplicate: Callable[[tuple[DedupKey, ...], str], bool],
) -> Verdict:
    """One DLQ record through the collector's steps; ``is_duplicate(keys, origin)`` is the dedup."""
    dlq_reason = headers.get("reason", "")
    if reasons and dlq_reason not in reasons:
        return Verdict("filtered", dlq_reason)
    recovered = recover(headers, value, tenants, events_topic)
    if isinstance(recovered, Verdict):
        return recovered
    outcome = steps.classify_one(0, recovered.line, recovered.ctx, max_record_bytes)
    if isinstance(outcome, steps.Rejected):
        return Verdict("failed", outcome.reason, recovered.origin)
    if is_duplicate(outcome.keys, recovered.origin):
        return Verdict("duplicate", dlq_reason, recovered.origin, outcome.keys)
    return Verdict(
        "replay",
        dlq_reason,
        recovered.origin,
        outcome.keys,
        stamp_replayed(outcome.event.raw, recovered.ctx),
        outcome.event.device_id.encode(),
    )


def stops(policy: Policy, verdict: Verdict) -> bool:
    """``stop`` halts at the first record that fails again; ``skip-invalid`` never halts."""
    return policy == "stop" and verdict.kind == "failed"


@dataclass
class Summary:
    """Counts of one run; ``replayed`` are records produced and acknowledged (or would be, dry-run)."""

    dry_run: bool = False
    read: int = 0
    replayed: int = 0
    failed_again: Counter[str] = field(default_factory=Counter)
    skipped_by_filter: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    foreign: Counter[str] = field(default_factory=Counter)
    stopped_at: str | None = None  # "partition@offset (reason)" under --policy stop
    committed: dict[int, int] = field(default_factory=dict)  # DLQ partition -> next offset

    def count(self, verdict: Verdict) -> None:
        self.read += 1
        if verdict.kind == "replay":
            self.replayed += 1
        elif verdict.kind == "failed":
            self.failed_again[verdict.reason] += 1
        elif verdict.kind == "filtered":
            self.skipped_by_filter[verdict.reason] += 1
        elif verdict.kind == "duplicate":
            self.duplicates += 1
        else:
            self.foreign[verdict.reason] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "read": self.read,
            "replayed": self.replayed,
            "failed_again": dict(sorted(self.failed_again.items())),
            "skipped_by_filter": dict(sorted(self.skipped_by_filter.items())),
            "duplicates": self.duplicates,
            "foreign_origin": dict(sorted(self.foreign.items())),
            "stopped_at": self.stopped_at,
            "committed": {str(p): o for p, o in sorted(self.committed.items())},
        }

    def render(self) -> str:
        def counts(c: Counter[str]) -> str:
            return ", ".join(f"{k or '-'} {n}" for k, n in sorted(c.items())) or "0"

        lines = [
            f"DLQ records read:   {self.read}"
            + ("  (dry run: nothing produced, nothing committed)" if self.dry_run else ""),
            f"replayed:           {self.replayed}" + (" (would be)" if self.dry_run else ""),
            f"failed again:       {counts(self.failed_again)}",
            f"skipped by filter:  {counts(self.skipped_by_filter)}",
            f"duplicates:         {self.duplicates}",
            f"foreign origin:     {counts(self.foreign)}",
        ]
        if self.stopped_at:
            lines.append(f"stopped at:         {self.stopped_at}")
        return "\n".join(lines)
