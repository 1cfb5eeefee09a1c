import pytest

from tui.core import formatting as fmt

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    "value, expected",
    [
        pytest.param(0, "0 B", id="zero"),
        pytest.param(1, "1 B", id="one-byte"),
        pytest.param(999, "999 B", id="bytes"),
        pytest.param(1_500, "1.5 kB", id="kilo"),
        pytest.param(12_000_000, "12.0 MB", id="mega"),
        pytest.param(3_200_000_000, "3.2 GB", id="giga"),
        pytest.param(None, "unknown", id="unknown"),
    ],
)
def test_size(value, expected):
    assert fmt.size(value) == expected


@pytest.mark.parametrize(
    "seconds_ago, expected",
    [
        pytest.param(0, "now", id="now"),
        pytest.param(-30, "now", id="future-clock-skew"),
        pytest.param(42, "42s ago", id="seconds"),
        pytest.param(5 * 60 + 3, "5m ago", id="minutes"),
        pytest.param(3 * 3600, "3h ago", id="hours"),
        pytest.param(2 * 86400, "2d ago", id="days"),
        pytest.param(15 * 86400, "2w ago", id="weeks"),
        pytest.param(65 * 86400, "2mo ago", id="months"),
        pytest.param(800 * 86400, "2y ago", id="years"),
    ],
)
def test_age_short(seconds_ago, expected):
    assert fmt.age_short(NOW - seconds_ago, NOW) == expected


@pytest.mark.parametrize(
    "value, expected",
    [pytest.param(None, "–", id="no-sample-yet"), pytest.param(2_500_000, "2.5 MB/s", id="megabytes")],
)
def test_rate(value, expected):
    assert fmt.rate(value) == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "–"), (float("inf"), "–"), (0, "0s"), (59.9, "59s"), (245, "4m05s"), (7980, "2h13m"), (273600, "3d04h")],
)
def test_duration(seconds, text):
    assert fmt.duration(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [(0.0, "under 1s"), (0.9, "under 1s"), (1.2, "1s"), (245, "4m05s")])
def test_took_says_a_run_under_a_second_is_one(seconds, text):
    assert fmt.took(seconds) == text


@pytest.mark.parametrize(
    ("values", "width", "height", "rows"),
    [
        pytest.param([], 4, 2, ["    ", "▁▁▁▁"], id="no data yet: the baseline"),
        pytest.param([0, 0], 4, 1, ["▁▁▁▁"], id="a quiet link keeps its baseline"),
        pytest.param([0, 8], 2, 1, ["▁█"], id="scaled to the largest"),
        pytest.param([1, 2], 4, 1, ["▄▄██"], id="fewer values than cells are stretched"),
        pytest.param([4, 1, 1, 8], 2, 1, ["▄█"], id="each cell the largest of its share"),
        pytest.param([8, 4, 0], 3, 2, ["█  ", "██▁"], id="two rows: the top one fills last"),
        pytest.param([5], 0, 2, ["", ""], id="no room"),
    ],
)
def test_bar_rows(values, width, height, rows):
    assert fmt.bar_rows(values, width, height) == rows
