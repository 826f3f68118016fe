"""Turn one device-day's timed ``data`` bodies into Common Schema 4.0 records.

Events are ordered by time; each takes the boot and agent run (``ext.sdk.epoch``) in effect at
its time, ``ext.sdk.seq`` counts +1 per event and restarts at 1 in every new epoch, and
heartbeats get their delivery counters from the events actually generated since the last one.
Records of one device-day share their ``ext.device``/``os``/``protocol``/``user``/``loc``
sub-objects: copy a record before mutating those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.events import HEARTBEAT, Data
from simulator.rand import Rand, fmt_time

SDK_VER = "fleet-agent-win-1.4.2"

# (time ms, creation order, event name, data)
Timed = tuple[int, int, str, Data]
# (start ms, bootId, epoch string, os ver): an agent run
Segment = tuple[int, int, str, str]


@dataclass
class Identity:
    """Per-device envelope constants."""

    local_id: str
    install_id: str
    make: str
    model: str
    user: str
    tz: str


@dataclass
class Delivery:
    """Per-device agent delivery state carried across days."""

    seq: int
    hb_seq: int
    last_hb_ms: int
    since_hb: int
    queued: int  # events held while offline (before today's)
    released: int  # events released at the start of today (uploaded late)
    oldest_queued_ms: int
    offline: bool


def assemble(
    evs: list[Timed], segs: list[Segment], ident: Identity, ikey: str, st: Delivery, r: Rand
) -> list[dict[str, Any]]:
    """Records for ``evs`` in time order; updates ``st`` (seq, heartbeat counters)."""
    evs.sort(key=lambda e: (e[0], e[1]))
    out: list[dict[str, Any]] = []
    # Sub-objects that do not change within a device-day are shared between records.
    device = {"localId": ident.local_id, "deviceClass": "Windows.Desktop"}
    protocol = {"devMake": ident.make, "devModel": ident.model}
    user = {"localId": ident.user}
    loc = {"tz": ident.tz}
    install_id = ident.install_id
    k, nsegs = 0, len(segs)
    seg = segs[0]
    os_ext = {"name": "Windows", "ver": seg[3], "bootId": seg[1]}
    epoch = seg[2]
    seq = st.seq
    append = out.append
    for t, _, name, data in evs:
        while k + 1 < nsegs and segs[k + 1][0] <= t:
            k += 1
            if segs[k][2] != epoch:
                seq = 0
            seg = segs[k]
            epoch = seg[2]
            os_ext = {"name": "Windows", "ver": seg[3], "bootId": seg[1]}
        seq += 1
        st.since_hb += 1
        if name == HEARTBEAT:
            _fill_heartbeat(data, t, st, r)
        append(
            {
                "ver": "4.0",
                "name": name,
                "time": fmt_time(t),
                "iKey": ikey,
                "ext": {
                    "device": device,
                    "os": os_ext,
                    "sdk": {"ver": SDK_VER, "epoch": epoch, "seq": seq, "installId": install_id},
                    "protocol": protocol,
                    "user": user,
                    "loc": loc,
                },
                "data": data,
            }
        )
    if segs[-1][2] != epoch:  # the agent restarted after the last event: a fresh epoch
        seq = 0
    st.seq = seq
    return out


def _fill_heartbeat(d: Data, t: int, st: Delivery, r: Rand) -> None:
    st.hb_seq += 1
    d["heartbeatSeq"] = st.hb_seq
    d["eventsGenerated"] = st.since_hb
    attempts = r.ri(4, 12)
    d["uploadAttempts"] = attempts
    if st.offline:
        st.queued += st.since_hb
        if st.oldest_queued_ms == 0:
            st.oldest_queued_ms = t
        d["eventsUploaded"] = 0
        d["eventsQueued"] = st.queued
        d["networkFailures"] = attempts
        d["oldestQueuedEventAgeSec"] = max((t - st.oldest_queued_ms) // 1000, 0)
    else:
        d["eventsUploaded"] = st.since_hb + st.released
        d["eventsQueued"] = 0
        d["networkFailures"] = 0
        st.released = 0
    d["uploadFailures4xx"] = 0
    d["uploadFailures5xx"] = 1 if r.random() < 0.02 else 0
    d["eventsDroppedRetriesExhausted"] = 0
    if 0 < st.last_hb_ms < t:
        d["previousHeartbeatTime"] = fmt_time(st.last_hb_ms)
    st.last_hb_ms = t
    st.since_hb = 0
