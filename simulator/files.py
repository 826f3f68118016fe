"""NDJSON output: one record per line, rotated every ``max_lines`` lines."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import IO


class NdjsonWriter:
    """Writes ``events-00000.ndjson``, ``events-00001.ndjson``, … under ``out_dir``."""

    def __init__(self, out_dir: Path, max_lines: int = 1_000_000) -> None:
        self.out_dir = out_dir
        self.max_lines = max_lines
        self.paths: list[Path] = []
        self._fh: IO[bytes] | None = None
        self._lines = 0
        out_dir.mkdir(parents=True, exist_ok=True)

    def write(self, lines: list[bytes]) -> None:
        """Append serialized records (without newlines)."""
        pos = 0
        while pos < len(lines):
            if self._fh is None or self._lines >= self.max_lines:
                self._rotate()
            assert self._fh is not None
            take = min(self.max_lines - self._lines, len(lines) - pos)
            self._fh.write(b"\n".join(lines[pos : pos + take]) + b"\n")
            self._lines += take
            pos += take

    def _rotate(self) -> None:
        if self._fh is not None:
            self._fh.close()
        path = self.out_dir / f"events-{len(self.paths):05d}.ndjson"
        self.paths.append(path)
        self._fh = path.open("wb")
        self._lines = 0

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> NdjsonWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
