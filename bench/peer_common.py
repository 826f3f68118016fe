"""What every peer process shares: its arguments, the aggregation's constants, its result file.

A peer is ``python -m bench.peer_<name> --bootstrap B --topic T --events N --expected M --out F``.
It reads topic ``T`` from the beginning (its own consumer group), computes hourly p50/p90 core
boot per model and crash counts per app version, and once it has processed ``N`` messages writes
``{"events", "seconds", "groups"}`` to ``F`` (seconds: first message in -> N-th message done, so
start-up and group joins are not timed). The runner then stops it.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

BOOT = "Fleet.Boot.Performance"
CRASH = "Fleet.Fault.AppCrash"
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class PeerArgs:
    bootstrap: str
    topic: str
    events: int  # messages in the topic
    expected: int  # boot + crash events among them
    out: Path
    group: str


def parse_args(doc: str | None) -> PeerArgs:
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--expected", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--group", required=True)
    a = parser.parse_args()
    return PeerArgs(a.bootstrap, a.topic, a.events, a.expected, a.out, a.group)


def model_of(event: dict[str, Any]) -> str:
    proto = event["ext"].get("protocol") or {}
    return f"{proto.get('devMake', 'unknown')}|{proto.get('devModel', 'unknown')}"


def write_result(out: Path, events: int, seconds: float, groups: int, **extra: Any) -> None:
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps({"events": events, "seconds": seconds, "groups": groups, **extra}))
    os.replace(tmp, out)
