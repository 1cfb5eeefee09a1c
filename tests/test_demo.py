"""A read-only demo starts nothing itself: its four downloads run as programs of their own, which
hftop sees as it sees a training script's."""

from __future__ import annotations

import time

import psutil

from tui.demo import start_demo
from tui.monitor.others import OtherDownloads


def test_a_read_only_demos_downloads_are_programs_of_their_own(tmp_path):
    demo = start_demo(tmp_path / "hub", own_downloads=False)
    try:
        assert demo.downloads == (), "hftop starts none of them"
        programs = {p.pid for p in demo.processes[2:]}
        assert len(programs) == 4
        others = OtherDownloads(demo.cache_dir, stall_after=20, local_dirs=False)
        try:
            deadline = time.monotonic() + 30
            while True:
                rows = [r for r in others.sample(time.time()) if r.owner_pid in programs]
                transports = {r.transport[0] for r in rows if r.transport is not None}
                if len(rows) >= 3 and transports == {"Xet", "plain HTTP"}:
                    break
                assert time.monotonic() < deadline, rows
                time.sleep(0.5)
        finally:
            others.close()
    finally:
        demo.close()
    assert all(p.poll() is not None for p in demo.processes), "quitting stops them"


def test_the_demo_leaves_no_zombie_once_its_cache_is_laid_out(tmp_path):
    demo = start_demo(tmp_path / "hub")
    try:
        populator = psutil.Process(demo.processes[1].pid)  # lays out the demo cache, then ends
        deadline = time.monotonic() + 60
        while True:
            try:
                if populator.status() == psutil.STATUS_ZOMBIE:
                    time.sleep(0.5)  # a moment to be reaped
                    assert populator.status() != psutil.STATUS_ZOMBIE, "an ended child is left unreaped"
                    break
            except psutil.NoSuchProcess:
                break  # ended and reaped
            assert time.monotonic() < deadline, "the demo cache was not laid out within a minute"
            time.sleep(0.1)
    finally:
        demo.close()
