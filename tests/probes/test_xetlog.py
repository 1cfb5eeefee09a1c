"""hf_xet's log as evidence: a log file in its JSON-lines format, written to disk and read back."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tui.probes.xetlog import read_xet_log, xet_cache_dir


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
