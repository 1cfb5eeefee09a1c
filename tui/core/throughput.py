"""Network throughput from successive counter readings: rate now, average, peak, totals, history.

Counters are cumulative byte counts per interface (as psutil gives them). A counter that goes
backwards (an interface reset or re-created) contributes nothing for that step instead of a
huge negative or positive spike.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

ALL = "all"


@dataclass(frozen=True)
class CounterReading:
    """One reading of every interface's cumulative counters, taken at `at` (seconds, monotonic)."""

    at: float
    received: dict[str, int]
    sent: dict[str, int]
    loopback: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ThroughputView:
    """What the network pane shows for the selected interface choice."""

    interface: str
    interfaces: tuple[str, ...]
    rx_now: float | None
    tx_now: float | None
    rx_avg: float | None
    tx_avg: float | None
    rx_peak: float
    tx_peak: float
    rx_total: int
    tx_total: int
    rx_history: tuple[float, ...]
    tx_history: tuple[float, ...]
    seconds_covered: float
    """How much time the history spans."""


class ThroughputTracker:
    """Accumulates readings. Owned by one worker at a time; its views are immutable."""

    def __init__(self, history_seconds: float = 300.0, include_loopback: bool = False):
        self.history_seconds = history_seconds
        self.include_loopback = include_loopback
        self._first: CounterReading | None = None
        self._last: CounterReading | None = None
        # (at, dt, rx bytes per interface, tx bytes per interface) for each step
        self._steps: deque[tuple[float, float, dict[str, int], dict[str, int]]] = deque()
        self._totals_rx: dict[str, int] = {}
        self._totals_tx: dict[str, int] = {}
        self._peak_rx: dict[str, float] = {}
        self._peak_tx: dict[str, float] = {}
        self._loopback: frozenset[str] = frozenset()

    def add(self, reading: CounterReading) -> None:
        self._loopback = reading.loopback
        if self._last is not None:
            dt = reading.at - self._last.at
            if dt <= 0:
                return
            rx = _deltas(self._last.received, reading.received)
            tx = _deltas(self._last.sent, reading.sent)
            self._steps.append((reading.at, dt, rx, tx))
            for nic, n in rx.items():
                self._totals_rx[nic] = self._totals_rx.get(nic, 0) + n
            for nic, n in tx.items():
                self._totals_tx[nic] = self._totals_tx.get(nic, 0) + n
            for choice in (*rx.keys(), ALL):
                r, t = self._step_bytes(rx, choice), self._step_bytes(tx, choice)
                self._peak_rx[choice] = max(self._peak_rx.get(choice, 0.0), r / dt)
                self._peak_tx[choice] = max(self._peak_tx.get(choice, 0.0), t / dt)
            # A step ending at `at` began at `at - dt`; keep the steps that began inside the window.
            while self._steps and reading.at - (self._steps[0][0] - self._steps[0][1]) > self.history_seconds:
                self._steps.popleft()
        else:
            self._first = reading
        self._last = reading

    def interfaces(self) -> tuple[str, ...]:
        names = sorted(self._last.received) if self._last else []
        return (ALL, *names)

    def _counts(self, nic: str) -> bool:
        return self.include_loopback or nic not in self._loopback

    def _step_bytes(self, per_nic: dict[str, int], choice: str) -> int:
        if choice == ALL:
            return sum(n for nic, n in per_nic.items() if self._counts(nic))
        return per_nic.get(choice, 0)

    def view(self, choice: str = ALL) -> ThroughputView:
        if choice not in self.interfaces():
            choice = ALL
        rx_hist = tuple(self._step_bytes(rx, choice) / dt for _, dt, rx, _ in self._steps)
        tx_hist = tuple(self._step_bytes(tx, choice) / dt for _, dt, _, tx in self._steps)
        elapsed = (self._last.at - self._first.at) if (self._first and self._last) else 0.0
        rx_total = self._step_bytes(self._totals_rx, choice)
        tx_total = self._step_bytes(self._totals_tx, choice)
        return ThroughputView(
            interface=choice,
            interfaces=self.interfaces(),
            rx_now=rx_hist[-1] if rx_hist else None,
            tx_now=tx_hist[-1] if tx_hist else None,
            rx_avg=rx_total / elapsed if elapsed > 0 else None,
            tx_avg=tx_total / elapsed if elapsed > 0 else None,
            rx_peak=self._peak_rx.get(choice, 0.0),
            tx_peak=self._peak_tx.get(choice, 0.0),
            rx_total=rx_total,
            tx_total=tx_total,
            rx_history=rx_hist,
            tx_history=tx_hist,
            seconds_covered=sum(dt for _, dt, _, _ in self._steps),
        )


def next_interface(current: str, interfaces: tuple[str, ...]) -> str:
    """The choice after `current` when the user cycles (all → each interface → all)."""
    if current not in interfaces:
        return ALL
    return interfaces[(interfaces.index(current) + 1) % len(interfaces)]


def _deltas(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    out = {}
    for nic, value in after.items():
        previous = before.get(nic)
        out[nic] = value - previous if previous is not None and value >= previous else 0
    return out
