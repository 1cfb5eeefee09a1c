"""System network counters, per interface, from psutil."""

from __future__ import annotations

import time

import psutil

from tui.core.throughput import CounterReading


def read_counters() -> CounterReading:
    counters = psutil.net_io_counters(pernic=True)
    loopback = set()
    try:
        for name, stats in psutil.net_if_stats().items():
            if "loopback" in getattr(stats, "flags", ""):
                loopback.add(name)
    except OSError:
        pass
    loopback.update(name for name in counters if name == "lo" or name.startswith("lo:"))
    return CounterReading(
        at=time.monotonic(),
        received={name: c.bytes_recv for name, c in counters.items()},
        sent={name: c.bytes_sent for name, c in counters.items()},
        loopback=frozenset(loopback),
    )
