"""hf_xet's log as evidence: a log file in its JSON-lines format, written to disk and read back."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tui.core.xet_fetches import TermBlock, XetQueue
from tui.probes.xetlog import XetLogFollower, read_xet_log, xet_cache_dir


def _write_log(folder: Path, pid: int, entries: list[dict]) -> Path:
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"xet_20261129T060000_{pid}.log"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries) + "not json, a torn last line")
    return path


def test_last_activity_and_last_problem(tmp_path):
    _write_log(tmp_path, 4242, [
        {"timestamp": "2026-11-29T06:00:00.000Z", "level": "INFO", "fields": {"message": "Starting download stream"}},
        {"timestamp": "2026-11-29T06:01:00.000Z", "level": "WARN",
         "fields": {"message": "Retrying request", "status_code": 403}},
        {"timestamp": "2026-11-29T06:02:00.500Z", "level": "INFO", "fields": {"message": "Received block"}},
    ])  # fmt: skip
    log = read_xet_log(tmp_path, 4242)
    assert log is not None and log.last_entry == 1795932120.5
    assert log.last_problem == "Retrying request status_code=403"


def test_no_log_for_that_process(tmp_path):
    _write_log(tmp_path, 7, [])
    assert read_xet_log(tmp_path, 8) is None
    assert read_xet_log(tmp_path / "nowhere", 7) is None


def test_where_hf_xet_keeps_its_logs():
    assert xet_cache_dir({"HF_XET_CACHE": "/x"}) == Path("/x")
    assert xet_cache_dir({"HF_HOME": "/h"}) == Path("/h/xet")
    assert xet_cache_dir({"HOME": "/home/u"}) == Path("/home/u/.cache/huggingface/xet")
    assert os.fspath(xet_cache_dir({"XDG_CACHE_HOME": "/c"})) == "/c/huggingface/xet"


def _line(message: str, **fields: object) -> str:
    """One line as hf_xet 1.8 writes it (JSON, its fields beside the message)."""
    entry = {"timestamp": "2026-12-07T19:49:04.668801Z", "level": "INFO", "fields": {"message": message, **fields},
             "filename": "xet_data/src/file_reconstruction/file_reconstructor.rs", "line_number": 1}  # fmt: skip
    return json.dumps(entry) + "\n"


def _reconstructing(file_hash: str, name: str) -> str:
    return _line("Reconstructing file to disk", file_hash=file_hash, byte_range="None",
                 path=f"/cache/models--o--r/blobs/{name}", write_offset="None")  # fmt: skip


def _block(file_hash: str, end: int, terms: int) -> str:
    return _line("Received block of file terms from prefetch queue", file_hash=file_hash, domain="127.0.0.3",
                 block_start=0, block_end=end, block_size=terms)  # fmt: skip


GET_RANGE = _line("Request Success: s3::get_range api call succeeded (request id ).")


def test_the_term_queue_is_followed_as_the_log_grows(tmp_path):
    """Each look reads what was added since the last one; a line still being written waits for its end."""
    log = tmp_path / "xet_20261207T194904643+0000_31580.log"
    log.write_text(
        _line("Initializing Adaptive Concurrency Controller for download with starting concurrency = 4; min = 1")
        + _reconstructing("aa", "e1.1756c313.incomplete")
        + _reconstructing("bb", "e2.61a73b69.incomplete")
        + _block("aa", 14_000_000, 1)
        + _line('Fatal Error: "cas::get_reconstruction_v2" api call failed: 404 Not Found')
        + GET_RANGE
    )
    follower = XetLogFollower()
    assert follower.queue(log) == XetQueue((TermBlock("e1.1756c313.incomplete", 0, 14_000_000, 1),), 1, 4)
    torn = _line("Concurrency control for download: Increased concurrency from 4 to 5; reason: success ratio")
    with log.open("a") as f:
        f.write(_block("bb", 160_000_000, 12) + GET_RANGE * 4 + torn[:40])
    queue = follower.queue(log)
    assert queue is not None and (queue.started, queue.concurrency) == (5, 4)
    assert queue.blocks[1] == TermBlock("e2.61a73b69.incomplete", 0, 160_000_000, 12)
    with log.open("a") as f:
        f.write(torn[40:] + _line("Concurrency control for upload: Current concurrency = 9"))
    queue = follower.queue(log)
    assert queue is not None and (len(queue.blocks), queue.started, queue.concurrency) == (2, 5, 5)


def test_a_log_with_no_term_block_yet_tells_nothing(tmp_path):
    log = tmp_path / "xet_1_2.log"
    log.write_text(_reconstructing("aa", "e1.incomplete") + GET_RANGE)
    assert XetLogFollower().queue(log) is None
    assert XetLogFollower().queue(tmp_path / "gone.log") is None
