"""Run a real collector (``ingest.main.serve``) on a background thread: tests and the benchmark.

with CollectorThread(settings) as url:      # url = "http://127.0.0.1:<port>"
    ...                                     # real HTTP, real Kafka
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from fleetpulse.settings import Settings
from ingest.main import serve


class CollectorThread:
    """Start on ``__enter__`` (waits until listening), graceful stop on ``__exit__``."""

    def __init__(self, settings: Settings, start_timeout_s: float = 30.0) -> None:
        self.settings = settings
        self.start_timeout_s = start_timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="collector", daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.collector_tls_cert_file is not None else "http"
        return f"{scheme}://{self.settings.collector_host}:{self.settings.collector_port}"

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            started = asyncio.Event()
            task = asyncio.create_task(serve(self.settings, self._stop, started))
            waiter = asyncio.create_task(started.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            self._ready.set()
            await task

        try:
            asyncio.run(main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    def __enter__(self) -> str:
        self._thread.start()
        if not self._ready.wait(self.start_timeout_s):
            raise TimeoutError("collector did not start")
        if self._error is not None:
            raise RuntimeError("collector failed to start") from self._error
        return self.url

    def stop(self, timeout_s: float = 60.0) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout_s)
        if self._error is not None:
            raise RuntimeError("collector crashed") from self._error

    def __exit__(self, *exc: Any) -> None:
        self.stop()
