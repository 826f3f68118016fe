"""The exclusive owner lock of an embedded store directory (``DIR/.fleetpulse.lock``).

``fcntl.flock`` on an open file: the kernel drops it when the owner exits, however it exits,
so a crashed sink never leaves a stale lock. The file holds the owner's pid and command line
so that :class:`StoreLocked` can name who owns the directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from pathlib import Path
from typing import IO

from sinks.clickhouse.base import StoreLocked

LOCK_NAME = ".fleetpulse.lock"


class DirectoryLock:
    """Held from :meth:`acquire` until :meth:`release` (or process exit)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`StoreLocked` naming the owner; never blocks."""
        self.directory.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held open while locked
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read()
            handle.close()
            pid, cmd = _parse_owner(owner)
            raise StoreLocked(str(self.directory), pid, cmd) from None
        except BaseException:
            handle.close()
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n{' '.join(sys.argv) or sys.executable}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Drop the lock (the file stays, emptied; content without a lock means nothing)."""
        handle, self._file = self._file, None
        if handle is None:
            return
        with contextlib.suppress(OSError):
            handle.seek(0)
            handle.truncate()
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def _parse_owner(text: str) -> tuple[int | None, str]:
    first, _, rest = text.partition("\n")
    try:
        pid: int | None = int(first.strip())
    except ValueError:
        pid = None
    return pid, rest.strip()
