"""One device's active day: boot and sign-in, census, changes, app use and faults, hourly snapshots.

:func:`device_day` returns the timed ``data`` bodies and the agent runs (segments) they fall
into; :mod:`simulator.envelope` orders them and stamps the envelope.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator import events as ev
from simulator.catalog import APPS, MODELS, OS_BUILDS, OS_EDITIONS, OS_UPDATE_KB
from simulator.envelope import Segment, Timed
from simulator.inject import BACKGROUND_DRIVERS, BACKGROUND_POLICIES
from simulator.rand import Rand, fmt_time
from simulator.world import World

HOUR = 3_600_000
QUARTER = 900_000


@dataclass(slots=True)
class DayDraws:
    """The device's vectorised draws for the day (see :mod:`simulator.timeline`)."""

    t0: int  # session start, device clock (ms)
    t_end: int
    u_boot: float
    u_fast: float
    u_bsod: float
    u_agent: float
    u_os: float


def device_day(w: World, d: int, i: int, dr: DayDraws, r: Rand) -> tuple[list[Timed], list[Segment]]:
    f = w.fleet
    m = MODELS[int(f.model[i])]
    osb = OS_BUILDS[int(f.os_build[i])]
    ubr = int(f.ubr[i])
    boot_id, epoch_n, base = int(f.boot_id[i]), int(f.epoch_n[i]), int(f.epoch_base[i])
    os_ver = f"{osb.build}.{osb.ubrs[ubr]}"
    segs: list[Segment] = [(0, boot_id, str(base + epoch_n), os_ver)]
    evs: list[Timed] = []

    def add(t: int, name: str, data: ev.Data) -> None:
        evs.append((t, len(evs), name, data))

    domain = bool(f.domain[i])
    t0, t_end = dr.t0, dr.t_end
    pending = int(f.update_pending[i])
    bsod = dr.u_bsod < m.stop_errors_per_month / 30.0 * float(f.mult_stop[i])
    t_user = t0 + r.ri(3000, 15000)
    if pending >= 0 or bsod or dr.u_boot < (0.45 if m.has_battery else 0.3):
        update = pending >= 0
        if update:
            ubr = pending
            f.ubr[i], f.update_pending[i] = ubr, -1
            os_ver = f"{osb.build}.{osb.ubrs[ubr]}"
        if bsod:
            cat = "blueScreen"
        elif update:
            cat = "restartWithUpdate" if r.random() < 0.75 else "shutdownWithUpdate"
        else:
            cat = r.choices(
                (
                    "shutdownWithoutUpdate",
                    "restartWithoutUpdate",
                    "longPowerButtonPress",
                    "unknown",
                    "bootError",
                ),
                (0.6, 0.31, 0.04, 0.03, 0.02),
            )[0]
        fast = cat == "shutdownWithoutUpdate" and dr.u_fast < 0.6
        prev, boot_id, epoch_n = boot_id, boot_id + 1, epoch_n + 1
        segs.append((t0, boot_id, str(base + epoch_n), os_ver))
        share = w.config.device_timing_share
        level = (math.sqrt(share) * float(f.level[i]), math.sqrt(1.0 - share))
        bdata, to_signin, total = ev.boot(
            r, m, boot_id, t0, domain, update, fast, float(f.mult_boot[i]), float(f.mult_gp[i]), level
        )
        total = w.cohorts.adjust_boot(i, bdata, total)  # the timeline (to_signin) stays the same
        agent = t0 + bdata["coreBootMs"] + r.ri(500, 3000)
        last_end, last_boot = int(f.last_end_ms[i]), int(f.last_boot_ms[i])
        add(agent, ev.TRANSITION, ev.transition(r, prev, boot_id, cat, last_end, last_boot))
        if bsod:
            add(agent + r.ri(1000, 20000), ev.STOP, ev.stop_error(r, m, prev, last_end))
        add(t0 + total + r.ri(200, 2000), ev.BOOT, bdata)
        ldata, ltotal = ev.logon(
            r, m, boot_id, t0 + to_signin, domain, r.random() < 0.01, float(f.mult_logon[i]), level
        )
        desktop = ldata["desktopShownMs"]  # the session's timeline ignores the cohorts' sign-in delays
        ltotal = w.cohorts.adjust_logon(i, m.disk, ldata)
        add(t0 + to_signin + ltotal + r.ri(100, 1000), ev.LOGON, ldata)
        t_user = t0 + to_signin + desktop
        f.boot_id[i], f.last_boot_ms[i] = boot_id, t0
    ram, hdd = int(f.ram_mb[i]), m.disk == "hdd"
    cdata = ev.census(
        m,
        os_ver,
        OS_EDITIONS[int(f.edition[i])],
        ram,
        int(f.disk_mb[i]),
        float(f.battery_health[i]),
        int(f.battery_cycles[i]),
    )
    add(t_user + r.ri(20000, 90000), ev.CENSUS, {**cdata, **w.cohorts.census_fields(i)})
    vers = f.app_ver[i].tolist()
    changed = _changes(w, d, i, vers, t_user + 60_000, t_end, dr, r, add)
    if changed:
        f.app_ver[i] = vers
    if not f.seen[i] or d % 7 == i % 7:
        f.seen[i] = True
        date = fmt_time(w.day0_ms - 400 * 86_400_000)[:10]
        for j, v in enumerate(vers):
            if v >= 0:
                add(t_user + 45_000 + j, ev.APP_ADD, ev.app_add(APPS[j], w.apps.versions[j][v], date))
    _apps(
        w,
        vers,
        t_user,
        t_end,
        r,
        add,
        int(f.model[i]),
        w.cohorts.hang_rand(w.config.seed, d, i, int(f.model[i])),
    )
    _hourly(w, i, m.battery_mwh, ram, hdd, t_user, t_end, r, add)
    if dr.u_agent < 0.01:  # the agent restarted on its own (update, crash): a new epoch
        epoch_n += 1
        segs.append((r.ri(t_user + 120_000, t_end), boot_id, str(base + epoch_n), os_ver))
    f.epoch_n[i] = epoch_n
    f.last_end_ms[i] = max(t_end, max(e[0] for e in evs) + 1000)
    return evs, segs


def _changes(
    w: World, d: int, i: int, vers: list[int], t: int, t_end: int, dr: DayDraws, r: Rand, add: ev.AddFn
) -> bool:
    """Configuration changes taking effect today; returns whether app versions changed."""
    changed = False
    mid = (t + t_end) // 2
    for k in w.due_injections:
        inj = w.inj.items[k]
        if not w.inj.target[k][i] or w.inj.applied_day[k][i] >= 0:
            continue
        j = w.inj.app_index[k]
        if j >= 0 and vers[j] < 0:
            continue  # app not installed: the update never reaches this device
        w.inj.applied_day[k][i] = d
        w.inj.apply_effect(k, w.fleet, i)
        when = t + r.ri(0, 60_000) if j >= 0 else r.ri(t, mid)
        frm = inj.from_version
        if j >= 0:
            frm, vers[j], changed = w.apps.versions[j][vers[j]], w.inj.version_index[k], True
            add(when + 2000, ev.APP_ADD, ev.app_add(APPS[j], inj.to_version or "", fmt_time(when)[:10]))
        add(
            when,
            ev.CONFIG,
            ev.config_change(
                inj.change_type,
                inj.change_id,
                inj.change_name,
                when - 1000,
                frm,
                inj.to_version,
                f"dep:{inj.name}",
            ),
        )
    for j, v in enumerate(vers):
        top = w.apps.n_catalog[j] - 1
        rel = w.apps.release_day[j]
        if 0 <= v < top and 0 <= rel <= d and r.random() < 0.3:
            app, new = APPS[j], w.apps.versions[j][top]
            when = t + r.ri(0, 60_000)
            add(
                when,
                ev.CONFIG,
                ev.config_change(
                    "app", f"app:{app.name}", f"{app.display} {new}", when - 1000, w.apps.versions[j][v], new
                ),
            )
            add(when + 2000, ev.APP_ADD, ev.app_add(app, new, fmt_time(when)[:10]))
            vers[j], changed = top, True
    f = w.fleet
    osb = OS_BUILDS[int(f.os_build[i])]
    ubr = int(f.ubr[i])
    wave = w.patch_wave(d)
    if (
        wave > int(f.os_wave[i])
        and int(f.update_pending[i]) < 0
        and ubr + 1 < len(osb.ubrs)
        and dr.u_os < 0.3
    ):
        f.os_wave[i] = wave
        when = r.ri(t, mid)
        kb = OS_UPDATE_KB[min(ubr + 1, len(OS_UPDATE_KB) - 1)]
        add(
            when,
            ev.CONFIG,
            ev.config_change(
                "osUpdate",
                f"os:{kb}",
                f"{kb} cumulative update for {osb.edition_name}",
                when - 1000,
                f"{osb.build}.{osb.ubrs[ubr]}",
                f"{osb.build}.{osb.ubrs[ubr + 1]}",
            ),
        )
        f.update_pending[i] = ubr + 1
    u = r.random()
    if u < 0.05:
        cid, name = BACKGROUND_POLICIES[r.randrange(len(BACKGROUND_POLICIES))]
        when = r.ri(t, mid)
        add(when, ev.CONFIG, ev.config_change("policy", cid, name, when - 1000))
    elif u < 0.06:
        cid, name, ver = BACKGROUND_DRIVERS[r.randrange(len(BACKGROUND_DRIVERS))]
        when = r.ri(t, mid)
        add(when, ev.CONFIG, ev.config_change("driver", cid, name, when - 1000, None, ver))
    return changed


def _apps(
    w: World, vers: list[int], t_user: int, t_end: int, r: Rand, add: ev.AddFn, model: int, extra: Rand | None
) -> None:
    """App usage, crashes and hangs; ``extra`` draws the hang-prone cohort's added hangs (so ``r``'s
    stream, and every other device's day, is what it would be without the cohort)."""
    first = -(-t_user // QUARTER) * QUARTER
    slots = max((t_end - first) // QUARTER - 1, 1)
    mean = w.config.usage_windows_per_app_day
    for j, v in enumerate(vers):
        app = APPS[j]
        if v < 0 or r.random() >= app.use_p:
            continue
        version = w.apps.versions[j][v]
        session = r.guid()
        n = min(1 + r.poisson(mean - 1.0), slots)
        for s in r.distinct(slots, n):
            start = first + s * QUARTER
            add(
                start + QUARTER + r.ri(100, 5000),
                ev.APP_USAGE,
                ev.app_usage(r, app, version, session, start),
            )
        span = max(t_end - t_user - 1000, 1)
        for _ in range(r.poisson(app.crash_per_day * w.apps.crash_mult[j][v])):
            t = t_user + r.randrange(span)
            add(t, ev.CRASH, ev.app_crash(r, app, version, max(t_user, t - r.ri(60_000, 7_200_000))))
        hang_rate = app.crash_per_day * app.hang_ratio * w.apps.hang_mult[j][v]
        for _ in range(r.poisson(hang_rate)):
            t = t_user + r.randrange(span)
            add(t, ev.HANG, ev.app_hang(r, app, version, max(t_user, t - r.ri(60_000, 7_200_000))))
        if extra is not None and j == w.cohorts.hang_app:  # the cohort's extra hangs, its own stream
            for _ in range(extra.poisson(hang_rate * (w.cohorts.hang_mult(j, model) - 1.0))):
                t = t_user + extra.randrange(span)
                add(
                    t, ev.HANG, ev.app_hang(extra, app, version, max(t_user, t - extra.ri(60_000, 7_200_000)))
                )


def _hourly(
    w: World, i: int, design: int, ram: int, hdd: bool, t_user: int, t_end: int, r: Rand, add: ev.AddFn
) -> None:
    cfg, f = w.config, w.fleet
    full = int(design * float(f.battery_health[i]))
    cycles = int(f.battery_cycles[i])
    pct = 100 if r.random() < 0.7 else r.ri(40, 95)
    k = 1
    while t_user + k * HOUR < t_end:
        tick = t_user + k * HOUR
        if k % cfg.heartbeat_every_hours == 0:
            add(tick + r.ri(0, 500), ev.HEARTBEAT, ev.heartbeat())
        if k % cfg.resource_every_hours == 0:
            start = (tick - HOUR) // 60_000 * 60_000
            add(start + HOUR + r.ri(1000, 4000), ev.RESOURCE, ev.resource(r, start, ram, hdd))
        if design and k % cfg.battery_every_hours == 0:
            ac = r.random() < 0.5
            rate = r.ri(5000, 12000)
            pct = min(pct + 25, 100) if ac else max(pct - rate * 100 // max(full, 1), 3)
            add(tick + r.ri(500, 1500), ev.BATTERY, ev.battery(design, full, pct, ac, rate, cycles))
        k += 1
