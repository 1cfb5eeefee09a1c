import pytest

from tui.core.throughput import ALL, CounterReading, ThroughputTracker, next_interface

MB = 1_000_000


def reading(at, eth_rx, eth_tx=0, lo=0, wlan_rx=0):
    return CounterReading(
        at=at,
        received={"eth0": eth_rx, "lo": lo, "wlan0": wlan_rx},
        sent={"eth0": eth_tx, "lo": lo, "wlan0": 0},
        loopback=frozenset({"lo"}),
    )


def test_rates_average_peak_and_totals():
    t = ThroughputTracker()
    t.add(reading(0, 0))
    t.add(reading(1, 1 * MB, 100))
    t.add(reading(2, 4 * MB, 300))
    t.add(reading(4, 6 * MB, 300))
    v = t.view()
    assert v.rx_history == (1 * MB, 3 * MB, 1 * MB)
    assert v.rx_now == 1 * MB
    assert v.rx_peak == 3 * MB
    assert v.rx_total == 6 * MB
    assert v.rx_avg == pytest.approx(1.5 * MB)
    assert v.tx_total == 300
    assert v.seconds_covered == 4


def test_first_reading_has_no_rate_yet():
    t = ThroughputTracker()
    t.add(reading(0, 123))
    v = t.view()
    assert v.rx_now is None and v.rx_avg is None and v.rx_total == 0 and v.rx_history == ()


def test_loopback_is_left_out_of_all_but_shown_alone():
    t = ThroughputTracker()
    t.add(reading(0, 0, lo=0))
    t.add(reading(1, 10, lo=5 * MB, wlan_rx=20))
    assert t.view(ALL).rx_now == 30
    assert t.view("lo").rx_now == 5 * MB
    assert t.view("wlan0").rx_now == 20
    t_all = ThroughputTracker(include_loopback=True)
    t_all.add(reading(0, 0))
    t_all.add(reading(1, 10, lo=5))
    assert t_all.view(ALL).rx_now == 15


def test_counter_reset_is_not_a_spike():
    t = ThroughputTracker()
    t.add(reading(0, 10 * MB))
    t.add(reading(1, 1 * MB))  # interface re-created: counter restarted
    t.add(reading(2, 2 * MB))
    assert t.view().rx_history == (0, 1 * MB)


def test_history_window_drops_old_steps():
    t = ThroughputTracker(history_seconds=10)
    for i in range(30):
        t.add(reading(i, i * MB))
    v = t.view()
    assert len(v.rx_history) == 10
    assert v.rx_total == 29 * MB  # totals count everything since start


def test_time_not_moving_is_ignored():
    t = ThroughputTracker()
    t.add(reading(5, 0))
    t.add(reading(5, 100))
    assert t.view().rx_history == ()


@pytest.mark.parametrize(
    "current, expected",
    [
        pytest.param(ALL, "eth0", id="all-to-first"),
        pytest.param("eth0", "lo", id="next"),
        pytest.param("wlan0", ALL, id="wraps"),
        pytest.param("gone0", ALL, id="vanished-interface"),
    ],
)
def test_next_interface(current, expected):
    assert next_interface(current, (ALL, "eth0", "lo", "wlan0")) == expected


def test_unknown_interface_view_falls_back_to_all():
    t = ThroughputTracker()
    t.add(reading(0, 0))
    assert t.view("nope").interface == ALL
