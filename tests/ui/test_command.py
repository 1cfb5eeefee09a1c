"""The `hftop` command as a user runs it: in a terminal (a pty), quit by key or by a closed terminal."""

from __future__ import annotations

import glob
import os
import pty
import signal
import subprocess
import sys
import tempfile
import time

import psutil
import pytest


def _start(args: list[str]) -> tuple[subprocess.Popen, int]:
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "36"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", *args], stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    return proc, master


def _read_until(master: int, *needles: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    os.set_blocking(master, False)
    while time.monotonic() < deadline:
        try:
            seen += os.read(master, 65536)
        except BlockingIOError:
            time.sleep(0.05)
        except OSError:
            break
        if all(needle in seen for needle in needles):
            return seen
    missing = [n for n in needles if n not in seen]
    raise AssertionError(f"{missing!r} not seen on screen")


def _drain(master: int, proc: subprocess.Popen, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            os.read(master, 65536)
        except (BlockingIOError, OSError):
            time.sleep(0.05)
    return proc.wait(timeout=1)


@pytest.mark.parametrize("how", ["q", "SIGHUP"])
def test_demo_starts_and_quitting_leaves_nothing_behind(how):
    def throwaway():
        return set(glob.glob(os.path.join(tempfile.gettempdir(), "hftop-demo-*")))

    before = throwaway()
    proc, master = _start(["--demo"])
    try:
        # The four live demo downloads show within seconds.
        _read_until(master, b"mistral-nano", b"phi-tiny", b"qwen-small", b"bloom-mini", timeout=20)
        children = psutil.Process(proc.pid).children(recursive=True)
        commands = [" ".join(c.cmdline()) for c in children]
        assert any("tui.devhub" in c for c in commands)
        assert sum("tui.downloads.runner" in c for c in commands) >= 3, commands
        assert throwaway() - before, "a throwaway cache was made"
        if how == "q":
            os.write(master, b"q")
        else:
            proc.send_signal(signal.SIGHUP)
        assert _drain(master, proc, timeout=20) == (0 if how == "q" else 128 + signal.SIGHUP)
        gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, [p.cmdline() for p in alive]
        assert not throwaway() - before, "the throwaway cache is removed"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        os.close(master)


def test_bad_refresh_is_a_clear_error_not_a_traceback():
    out = subprocess.run([sys.executable, "-m", "tui", "--refresh", "fast"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "--refresh takes a number of seconds" in out.stderr and "Traceback" not in out.stderr


def test_cache_dir_that_is_a_file(tmp_path):
    f = tmp_path / "hub"
    f.write_text("x")
    out = subprocess.run([sys.executable, "-m", "tui", "--cache-dir", str(f)], capture_output=True, text=True)
    assert out.returncode == 2 and "is a file" in out.stderr and "Traceback" not in out.stderr


def test_quit_does_not_wait_for_a_scan_in_flight(tmp_path):
    from tui.devhub.synthetic import build_synthetic_cache

    cache = tmp_path / "hub"
    build_synthetic_cache(cache, files=30_000)
    proc, master = _start(["--cache-dir", str(cache)])
    try:
        _read_until(master, b"Cache", timeout=20)
        time.sleep(0.3)  # the first scan of 30,000 files takes seconds
        os.write(master, b"q")
        started = time.monotonic()
        assert _drain(master, proc, timeout=20) == 0
        assert time.monotonic() - started < 1.5
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        os.close(master)
