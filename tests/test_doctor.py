"""`hftop doctor` as a script runs it: real downloader processes, the exit status, the JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tui.probes.partials import find_partials

MiB = 1024 * 1024


def _doctor(cache, *args):
    out = subprocess.run(
        [sys.executable, "-m", "tui", "doctor", "--cache-dir", str(cache), *args], capture_output=True, text=True
    )
    assert "Traceback" not in out.stderr, out.stderr
    return out


def _wait_for_partial(cache):
    deadline = time.monotonic() + 30
    while not any(p.real_bytes >= 10 * MiB for p in find_partials(cache)):
        assert time.monotonic() < deadline, "the outside download wrote nothing"
        time.sleep(0.1)


def test_doctor_reports_a_live_download_then_a_stall_then_an_orphan(outside_downloader):
    proc, cache = outside_downloader
    _wait_for_partial(cache)

    out = _doctor(cache, "--json", "--watch", "0.5")
    assert out.returncode == 0, out.stdout
    [entry] = json.loads(out.stdout)["downloads"]
    assert entry["verdict"] == "downloading"
    assert entry["process"]["pid"] == proc.pid and entry["lock_held_by"] == proc.pid
    # The large file comes from the devhub's download origin (127.0.0.2), as LFS files come from a CDN.
    assert any(r.startswith("127.0.0.2:") for r in entry["process"]["connected_to"]), entry["process"]
    assert (entry["repo_id"], entry["file"], entry["expected_size"]) == (
        "hftop-demo/qwen-small",
        "model.safetensors",
        90_000_000,
    )
    assert entry["bytes_on_disk"] == 10 * MiB

    time.sleep(1.5)  # the devhub holds it at 10 MiB: with a 1 s threshold it is stalled
    out = _doctor(cache, "--json", "--watch", "0.2", "--stall-after", str(1 / 60))
    assert out.returncode == 1
    assert json.loads(out.stdout)["downloads"][0]["verdict"] == "stalled"

    proc.kill()
    proc.wait()
    out = _doctor(cache)
    assert out.returncode == 1
    assert "PROCESS GONE" in out.stdout and "no live process on this machine has the file open" in out.stdout


def test_doctor_on_a_clean_or_missing_cache_exits_0(tmp_path):
    out = _doctor(tmp_path / "nowhere", "--watch", "0")
    assert out.returncode == 0 and "No download in progress" in out.stdout
    assert json.loads(_doctor(tmp_path, "--json", "--watch", "0").stdout)["downloads"] == []


def test_json_without_doctor_is_refused():
    out = subprocess.run([sys.executable, "-m", "tui", "--json"], capture_output=True, text=True)
    assert out.returncode == 2 and "go with `hftop doctor`" in out.stderr
