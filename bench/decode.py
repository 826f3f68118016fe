"""Decode throughput on the example events: ``python -m bench.decode [--seconds N]``.

Prints records/s per event type and for the mix, single core, one record per :func:`decode` call.
"""

from __future__ import annotations

import argparse
import time

import orjson

from schemas.decode import decode
from schemas.examples import EXAMPLES_RECEIVED_AT, load_examples


def _rate(lines: list[bytes], seconds: float) -> float:
    done, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for line in lines:
            decode(line, received_at=EXAMPLES_RECEIVED_AT)
        done += len(lines)
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args(argv)
    lines = {name: orjson.dumps(record) for name, record in load_examples().items()}
    for line in lines.values():  # warm up, and fail loudly if an example does not decode
        decode(line, received_at=EXAMPLES_RECEIVED_AT)
    for name, line in lines.items():
        print(f"{name:32s} {len(line):6d} B {_rate([line], args.seconds):>10,.0f} records/s")
    print(
        f"{'all types (mix)':32s} {'':8s} {_rate(list(lines.values()), args.seconds * 3):>10,.0f} records/s"
    )


if __name__ == "__main__":
    main()
