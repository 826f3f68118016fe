"""``StopSignals``: a stop signal is seen whichever thread the kernel hands it to."""

from __future__ import annotations

import signal
import threading

import pytest

from fleetpulse.stack import StopSignals


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_delivered_to_another_thread_stops_the_wait(sig: signal.Signals) -> None:
    # what the embedded ClickHouse engine's thread pools make happen: they unblock every signal,
    # so a process-directed SIGINT may land on one of them while the main thread waits
    ready = threading.Event()
    done = threading.Event()

    def other() -> None:
        ready.set()
        done.wait(10)

    # restored afterwards to what they were (SIGINT is ignored in a job started in the background)
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    worker = threading.Thread(target=other)
    worker.start()
    ready.wait(5)
    try:
        with StopSignals() as stop:
            assert worker.ident is not None
            signal.pthread_kill(worker.ident, sig)
            assert stop.wait() == sig
    finally:
        done.set()
        worker.join()
    assert {s: signal.getsignal(s) for s in before} == before


def test_a_second_signal_keeps_the_first() -> None:
    with StopSignals() as stop:
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGINT)
        assert stop.wait() == signal.SIGTERM
