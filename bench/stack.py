"""The measured stack: Kafka + sink (+ processor when its worker exists) + collector.

``BenchStack`` wraps :class:`fleetpulse.stack.LocalStack` with fresh topic names, consumer
groups, ports and a fresh data directory, so it never reads or writes a colleague's topics on a
shared broker. The children learn those names from the environment (``FLEETPULSE_*``) —
the only channel a child process has; they are set for the stack's lifetime and restored after.
When the ``process`` subcommand is not registered yet, the stack runs the sink through
``LocalStack`` and starts the collector itself (``processor_in_path`` says which).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from deploy.kafka import child_preexec, free_port
from fleetpulse.settings import Settings, load_settings
from fleetpulse.stack import LocalStack


def processor_worker_ready() -> bool:
    """True once ``fleetpulse process`` is a registered subcommand (the worker is finished)."""
    from fleetpulse.cli import cli

    return "process" in cli.commands


class BenchStack:
    """``with BenchStack(dir, bootstrap) as stack:`` -> ``stack.collector_url``, ``stack.sink_url``."""

    def __init__(self, data_dir: Path, kafka_bootstrap: str, with_processor: bool | None = None) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.processor_in_path = processor_worker_ready() if with_processor is None else with_processor
        self.overrides: dict[str, str] = {
            "TOPIC_EVENTS": f"bench.events.{suffix}",
            "TOPIC_DLQ": f"bench.dlq.{suffix}",
            "TOPIC_AGGREGATES": f"bench.aggregates.{suffix}",
            "TOPIC_REGRESSIONS": f"bench.regressions.{suffix}",
            "TOPIC_DEVICE_DAILY": f"bench.device-daily.{suffix}",
            "TOPIC_BASELINES": f"bench.baselines.{suffix}",
            "SINK_GROUP_ID": f"bench-sink-{suffix}",
            "PROCESSOR_APP_ID": f"bench-processors-{suffix}",
            "COLLECTOR_PORT": str(free_port()),
            "SINK_PORT": str(free_port()),
            "PROCESSOR_METRICS_PORT": str(free_port()),
            "LOG_LEVEL": "WARNING",
        }
        self.settings: Settings = load_settings(
            data_dir=data_dir,
            kafka_bootstrap=kafka_bootstrap,
            **{k.lower(): v for k, v in self.overrides.items()},
        )
        self._saved: dict[str, str | None] = {}
        self._stack: LocalStack | None = None
        self._collector: subprocess.Popen[bytes] | None = None
        self.endpoints: dict[str, str] = {}
        self._cwd = ""

    @property
    def collector_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.collector_port}"

    @property
    def sink_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.sink_port}"

    def pids(self) -> dict[str, int]:
        """Child process ids by service name (for RSS and py-spy)."""
        out = {}
        if self._stack is not None:
            out = {name: proc.pid for name, proc in self._stack._procs.items()}
        if self._collector is not None:
            out["collector"] = self._collector.pid
        return out

    def __enter__(self) -> BenchStack:
        # the children's working directory (faust keeps local files there): the run's own directory
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._cwd = os.getcwd()
        os.chdir(self.settings.data_dir)
        for key, value in self.overrides.items():
            self._saved[key] = os.environ.get(f"FLEETPULSE_{key}")
            os.environ[f"FLEETPULSE_{key}"] = value
        try:
            self._stack = LocalStack(self.settings, with_pipeline=self.processor_in_path, with_console=False)
            self.endpoints = self._stack.__enter__()
            if not self.processor_in_path:
                self._start_collector()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start_collector(self) -> None:
        env = {
            **os.environ,
            "FLEETPULSE_KAFKA_BOOTSTRAP": self.endpoints["kafka"],
            "FLEETPULSE_DATA_DIR": str(self.settings.data_dir.resolve()),
        }
        self._collector = subprocess.Popen(
            [sys.executable, "-m", "fleetpulse.cli", "collector"],
            env=env,
            stdin=subprocess.DEVNULL,
            preexec_fn=child_preexec,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._collector.poll() is not None:
                raise RuntimeError(f"collector exited with {self._collector.returncode} while starting")
            try:
                with urllib.request.urlopen(self.collector_url + "/healthz", timeout=1) as resp:
                    if int(resp.status) == 200:
                        self.endpoints["collector"] = self.collector_url
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("collector not healthy after 60 s")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._collector is not None:
            self._collector.terminate()
            try:
                self._collector.wait(30)
            except subprocess.TimeoutExpired:
                self._collector.kill()
                self._collector.wait()
            self._collector = None
        if self._stack is not None:
            stack, self._stack = self._stack, None
            stack.__exit__(None, None, None)
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(f"FLEETPULSE_{key}", None)
            else:
                os.environ[f"FLEETPULSE_{key}"] = value
        self._saved.clear()
        if self._cwd:
            os.chdir(self._cwd)
            self._cwd = ""


def query(sink_url: str, sql: str) -> list[list[Any]]:
    """Rows of one read through the sink's ``POST /v1/query``."""
    req = urllib.request.Request(
        sink_url + "/v1/query", data=orjson.dumps({"sql": sql, "params": {}}), method="POST"
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        rows: list[list[Any]] = orjson.loads(resp.read())["rows"]
    return rows


def rss_mb(pid: int) -> float:
    """Resident set size of a process (``/proc/PID/statm``), MB."""
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
