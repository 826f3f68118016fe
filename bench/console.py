"""How fast the console answers: every page, against the running stack's store, as a browser asks.

``python -m bench.console [--rounds 3] [--requests 20]`` with the stack running (``fleetpulse
up`` or ``fleetpulse demo --keep`` on the same ``FLEETPULSE_DATA_DIR``). It starts two console
processes of its own beside the stack's, reading through the stack's sink with the operator
token: one that reuses reads (``console_cache_s`` = 15, the default) and one that reads the
store for every request (``console_cache_s`` = 0, a first visit). Each round requests every page
``--requests`` times from each, alternating, and takes p50 / p95 / max of the wall time of a
full HTTP response; the figure printed is the median over the rounds (side by side, one run).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import click

from deploy.kafka import free_port
from fleetpulse.access import read_operator_token
from fleetpulse.runfile import read_endpoints
from fleetpulse.settings import load_settings

PAGES = ("/", "/startup", "/restarts", "/apps", "/regressions", "/baselines")


def _start(sink_url: str, data_dir: Path, cache_s: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "FLEETPULSE_DATA_DIR": str(data_dir),
        "FLEETPULSE_CONSOLE_PORT": str(port),
        "FLEETPULSE_CONSOLE_SINK_URL": sink_url,
        "FLEETPULSE_CONSOLE_CACHE_S": str(cache_s),
    }
    log = data_dir / "logs" / f"bench-console-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fleetpulse.cli", "console"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise click.ClickException("a console did not start within 60 s")


def _get(url: str, token: str) -> float:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        raise click.ClickException(f"{url}: HTTP {exc.code}: {exc.read()[:500]!r}") from exc
    return time.perf_counter() - started


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def page_device(base: str, token: str) -> str:
    """The device page of the slowest device (the first device link of the startup page)."""
    request = urllib.request.Request(f"{base}/startup", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=120) as resp:
        html: str = resp.read().decode()
    marker = 'href="/device/'
    start = html.index(marker) + len('href="')
    return html[start : html.index('"', start)].split("?")[0]


@click.command()
@click.option("--rounds", default=3, show_default=True, help="Rounds (the median of their figures is shown).")
@click.option("--requests", "per_page", default=20, show_default=True, help="Requests per page per round.")
def main(rounds: int, per_page: int) -> None:
    settings = load_settings()
    data_dir = settings.data_dir.resolve()
    sink = read_endpoints(data_dir).get("sink")
    token = read_operator_token(data_dir)
    if not sink or not token:
        raise click.ClickException(f"no running stack in {data_dir}: start `fleetpulse up` (or demo --keep)")
    consoles = {name: _start(sink, data_dir, cache) for name, cache in (("cached", 15.0), ("uncached", 0.0))}
    try:
        pages = [*PAGES, page_device(consoles["cached"][1], token)]
        figures: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for _ in range(rounds):
            for page in pages:
                times: dict[str, list[float]] = {name: [] for name in consoles}
                for _i in range(per_page):
                    for name, (_proc, url) in consoles.items():  # alternating: the same load on both
                        times[name].append(_get(url + page, token))
                for name, ts in times.items():
                    figure = (_quantile(ts, 0.5), _quantile(ts, 0.95), max(ts))
                    figures.setdefault((name, page), []).append(figure)
    finally:
        for proc, _url in consoles.values():
            proc.terminate()
            proc.wait(10)
    load = os.getloadavg()
    click.echo(f"console page latency, ms (median of {rounds} rounds x {per_page}; load {load[0]:.1f})")
    heads = f"{'cached p50':>10} {'p95':>7} {'max':>7}   {'uncached p50':>12} {'p95':>7} {'max':>7}"
    click.echo(f"{'page':<40} {heads}")
    for page in pages:
        cells = []
        for name in consoles:
            runs = figures[(name, page)]
            cells += [statistics.median(r[i] for r in runs) * 1000 for i in range(3)]
        shown = page if len(page) <= 40 else page[:37] + "..."
        click.echo(
            f"{shown:<40} {cells[0]:>10.0f} {cells[1]:>7.0f} {cells[2]:>7.0f}   "
            f"{cells[3]:>12.0f} {cells[4]:>7.0f} {cells[5]:>7.0f}"
        )


if __name__ == "__main__":
    main()
