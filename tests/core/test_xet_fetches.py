"""Which of a process's files hf_xet fetches now: its term blocks and fetches begun, as its log tells them."""

from __future__ import annotations

import pytest

from tui.core.xet_fetches import TermBlock, XetQueue, XetTurn, xet_turns

MB = 1_000_000
# The blocks of a snapshot's first three files, in the order hf_xet received them: 4, 2 and 9 terms.
BLOCKS = (TermBlock("a", 0, 60 * MB, 4), TermBlock("b", 0, 30 * MB, 2), TermBlock("c", 0, 120 * MB, 9))


@pytest.mark.parametrize(
    ("started", "concurrency", "on_disk", "slots"),
    [
        pytest.param(4, 4, {"a": 0, "b": 0, "c": 0}, {"a": 4, "b": 0, "c": 0}, id="the-first-file-takes-every-fetch"),
        pytest.param(5, 4, {"a": 0, "b": 0, "c": 0}, {"a": 3, "b": 1, "c": 0}, id="a-fetch-ends-the-next-file-begins"),
        pytest.param(10, 6, {"b": 0, "c": 0}, {"b": 2, "c": 4}, id="a-file-placed-holds-none"),
        pytest.param(6, 4, {"a": 45 * MB, "b": 0, "c": 0}, {"a": 1, "b": 2, "c": 0}, id="terms-on-disk-ended"),
        pytest.param(15, 4, {"c": 0}, {"c": 4}, id="the-last-terms"),
        pytest.param(40, 4, {"c": 110 * MB}, {"c": 1}, id="more-begun-than-known-terms"),
        pytest.param(3, 4, {"a": 0, "b": 0, "c": 0, "d": 0}, {"a": 3, "b": 0, "c": 0, "d": 0}, id="no-block-yet"),
    ],
)  # fmt: skip
def test_the_terms_under_way_are_the_last_ones_begun_less_those_ended(started, concurrency, on_disk, slots):
    turns = xet_turns(XetQueue(BLOCKS, started, concurrency), on_disk)
    assert {name: t.slots for name, t in turns.items()} == slots
    assert all(t.concurrency == concurrency for t in turns.values())


def test_a_file_with_no_fetch_knows_how_many_files_hold_them():
    turns = xet_turns(XetQueue(BLOCKS, 5, 4), {"a": 0, "b": 0, "c": 0})
    assert turns["c"] == XetTurn(0, 4, 2)
    assert turns["a"].files_ahead == 0
