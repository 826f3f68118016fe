"""`fleetpulse up` runs Kafka and the store in the foreground and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deploy.kafka import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    stack = [pid]
    while stack:
        current = stack.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_up_starts_and_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    env = {
        **os.environ,
        "FLEETPULSE_DATA_DIR": str(tmp_path / "data"),
        "FLEETPULSE_KAFKA_BOOTSTRAP": "",
        "FLEETPULSE_SINK_PORT": str(free_port()),
        "FLEETPULSE_CONSOLE_PORT": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetpulse.cli", "up", "--store-only"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "ready; Ctrl-C stops everything" in line:
            break
    output = "".join(lines)
    assert "ready" in output, output
    assert "kafka 4.1.1 (KRaft) listening on 127.0.0.1:" in output
    assert "sink listening on http://127.0.0.1:" in output
    assert "console listening on http://127.0.0.1:" in output
    assert "/?token=" in output
    children = _descendants(proc.pid)
    assert len(children) >= 2, f"expected kafka and the sink under `up`, found {children}"

    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, output + rest
    assert "kafka stopped in" in rest
    time.sleep(0.5)
    assert [pid for pid in children if _alive(pid)] == []
    assert not (tmp_path / "data" / "run" / "endpoints.json").exists()
