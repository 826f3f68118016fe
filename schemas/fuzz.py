"""Hostile-input fuzzing of ``schemas.decode`` (and the collector's per-record path).

Inputs are mutations of the example events, generated cheaply with a seeded PRNG (no shrinking):
byte flips, truncations, insertions of hostile tokens (``NaN``, huge numbers, lone surrogates,
control and bidi characters, duplicate keys, trailing garbage), deep nesting, big arrays and
unicode. Every input must either decode or raise :class:`~schemas.InvalidEvent` with a reason of
the documented set; anything else is a failure (kept, with the input, for the report). A
watchdog thread interrupts the run if one input takes longer than ``--max-input-s``; the first
``--traced`` inputs run under ``tracemalloc`` to measure the peak memory of one decode.

    python -m schemas.fuzz --inputs 50000000 --seed 7        # the long run (prints figures)
"""

from __future__ import annotations

import _thread
import argparse
import random
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from schemas import DECODE_REASONS, InvalidEvent, decode
from schemas.examples import load_examples

RECEIVED_AT = datetime(2026, 3, 11, 8, 0, tzinfo=UTC)
HOSTILE: tuple[bytes, ...] = (
    b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-0", b"9223372036854775808", b"1" * 400,
    b"0.1e-99999", b'"\\ud800"', b'"\\udfff\\ud800"', b'"\\u0000"', b"\x00", b"\x1b[31m", b"\xe2\x80\xae",
    b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b'"a":1,"a":2', b"}", b"]", b"{", b"[", b",", b":", b'"',
    b"\\", b"null", b"true", b"[]", b"{}", b'"x"', b"\n", b"\r", b"\t", b" " * 64, b"\xef\xbb\xbf",
    b"..\\..\\windows\\system32", b"\xf0\x9f\x92\xa9" * 16, b'"ext":{"ingest":{}}', b"-1", b"4294967296",
)  # fmt: skip


@dataclass
class Report:
    inputs: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[bytes, str]] = field(default_factory=list)
    seconds: float = 0.0
    slowest_s: float = 0.0
    peak_bytes: int = 0

    @property
    def rate(self) -> float:
        return self.inputs / self.seconds if self.seconds else 0.0


def seeds() -> list[bytes]:
    return [orjson.dumps(record) for _, record in sorted(load_examples().items())]


def mutate(rng: random.Random, base: bytes) -> bytes:
    """One mutation (sometimes stacked) of ``base``."""
    data = bytearray(base)
    for _ in range(1 + (rng.random() < 0.3) + (rng.random() < 0.1)):
        kind = rng.randrange(9)
        n = len(data)
        pos = rng.randrange(n + 1)
        if kind == 0 and n:  # byte flips
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(n)
                data[i] ^= 1 << rng.randrange(8)
        elif kind == 1:  # truncation
            del data[pos:]
        elif kind == 2:  # hostile token inserted
            data[pos:pos] = rng.choice(HOSTILE)
        elif kind == 3:  # hostile token replaces a span
            data[pos : pos + rng.randint(1, 12)] = rng.choice(HOSTILE)
        elif kind == 4:  # deep nesting around a value
            depth = rng.choice((4, 32, 200, 5000))
            data[pos:pos] = b"[" * depth + b"1" + b"]" * depth
        elif kind == 5:  # duplicate a span
            end = min(n, pos + rng.randint(1, 64))
            data[pos:pos] = data[pos:end]
        elif kind == 6:  # random unicode text
            text = "".join(chr(rng.randrange(0x20, 0x2FFFF)) for _ in range(rng.randint(1, 8)))
            data[pos:pos] = text.encode("utf-8", "surrogatepass")
        elif kind == 7:  # big number in place of a digit run
            data[pos:pos] = str(rng.choice((2**63, -(2**63) - 1, 10**30, 2**32))).encode()
        elif kind == 8:  # a long array or string
            data[pos:pos] = b'"' + b"A" * rng.choice((100, 70_000)) + b'"'
    return bytes(data)


def generate(seed: int, count: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    bases = seeds()
    for _ in range(count):
        yield mutate(rng, rng.choice(bases))


class Watchdog:
    """Interrupts the main thread when one input runs longer than ``limit_s``."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.index = -1
        self.started = time.perf_counter()
        self.tripped: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="fuzz-watchdog", daemon=True)

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        seen = -2
        while not self._stop.wait(min(0.5, self.limit_s / 4)):
            index = self.index
            if index == seen and time.perf_counter() - self.started > self.limit_s:
                self.tripped = index
                _thread.interrupt_main()
                return
            seen = index


def _decode(raw: bytes) -> None:
    decode(raw, received_at=RECEIVED_AT)


def run(
    inputs: int,
    seed: int = 1,
    *,
    check: Callable[[bytes], None] | None = None,
    max_input_s: float = 2.0,
    traced: int = 2_000,
) -> Report:
    """Feed ``inputs`` mutations to ``check`` (default: ``decode``); see the module docstring."""
    step = check or _decode
    report = Report()
    tracemalloc.start()
    started = time.perf_counter()
    with Watchdog(max_input_s) as dog:
        try:
            for i, raw in enumerate(generate(seed, inputs)):
                if i == traced:
                    report.peak_bytes = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                t0 = time.perf_counter()
                dog.index, dog.started = i, t0
                try:
                    step(raw)
                    report.accepted += 1
                except InvalidEvent as exc:
                    report.rejected[exc.reason] = report.rejected.get(exc.reason, 0) + 1
                    if exc.reason not in DECODE_REASONS:
                        report.failures.append((raw, f"undocumented reason {exc.reason!r}"))
                except Exception as exc:
                    report.failures.append((raw, f"{type(exc).__name__}: {exc}"))
                report.slowest_s = max(report.slowest_s, time.perf_counter() - t0)
                report.inputs += 1
        except KeyboardInterrupt:
            if dog.tripped is None:
                raise
            report.failures.append((b"", f"input {dog.tripped} ran longer than {max_input_s} s"))
    if tracemalloc.is_tracing():
        report.peak_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    report.seconds = time.perf_counter() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-input-s", type=float, default=2.0)
    args = parser.parse_args(argv)
    report = run(args.inputs, args.seed, max_input_s=args.max_input_s)
    print(f"inputs {report.inputs:,} in {report.seconds:.1f} s ({report.rate:,.0f}/s), "
          f"accepted {report.accepted:,}, slowest {report.slowest_s * 1000:.1f} ms, "
          f"peak traced memory {report.peak_bytes / 1024:.0f} KiB")  # fmt: skip
    for reason, n in sorted(report.rejected.items(), key=lambda kv: -kv[1]):
        print(f"  {reason:20s} {n:,}")
    for raw, what in report.failures[:20]:
        print(f"FAILURE {what}: {raw[:200]!r}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
