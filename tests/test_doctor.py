"""`hftop doctor` as a script runs it: real downloader processes, the exit status, the JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tui.core.downloads import DownloadState, ExternalDownload, PartialProgress
from tui.doctor import _advice
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

    # Quiet for over 10 s, under the default threshold: still downloading, and the advice says how long it waits.
    time.sleep(8)
    out = _doctor(cache, "--watch", "0.2")
    assert out.returncode == 0 and "DOWNLOADING" in out.stdout
    assert "→ nothing new for " in out.stdout and "under the stall threshold (5m" in out.stdout, out.stdout

    proc.kill()
    proc.wait()
    out = _doctor(cache)
    assert out.returncode == 1
    assert "PROCESS GONE" in out.stdout and "no live process on this machine has the file open" in out.stdout


def test_doctor_on_a_clean_or_missing_cache_exits_0(tmp_path):
    out = _doctor(tmp_path / "nowhere", "--watch", "0")
    assert out.returncode == 0 and "No download in progress" in out.stdout
    assert f"{tmp_path / 'nowhere'} does not exist yet" in out.stdout, "a mistyped path does not read as all well"
    assert json.loads(_doctor(tmp_path, "--json", "--watch", "0").stdout)["downloads"] == []


def test_doctor_returns_at_once_when_there_is_nothing_to_watch(demo_cache):
    for partial in demo_cache.rglob("*.incomplete"):
        partial.unlink()  # the demo cache's one orphan: then nothing is left to watch
    started = time.monotonic()
    out = _doctor(demo_cache, "--watch", "60")
    assert out.returncode == 0 and "No download in progress" in out.stdout
    assert time.monotonic() - started < 30, "it watched an empty cache for the whole --watch"


def test_json_without_doctor_is_refused():
    out = subprocess.run([sys.executable, "-m", "tui", "--json"], capture_output=True, text=True)
    assert out.returncode == 2 and "go with `hftop doctor`" in out.stderr


async def test_doctor_gives_the_demo_downloads_the_verdicts_the_dashboard_gives(live_demo):
    """One monitor behind both: while doctor watches, each download it reports has the verdict the
    dashboard shows for it in that time, slow tail and stalled included."""
    import asyncio

    from tui.app import make_app
    from tui.core.downloads import DownloadState
    from tui.settings import DEMO_STALL_AFTER

    app = make_app(live_demo)
    async with app.run_test(size=(120, 36)) as pilot:
        wanted = {DownloadState.SLOW_TAIL, DownloadState.STALLED}
        deadline = time.monotonic() + 90
        while not wanted <= {v.state for v in app.dashboard.snapshot.own}:
            assert time.monotonic() < deadline, [v.state for v in app.dashboard.snapshot.own]
            await pilot.pause(0.2)
        doctor = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tui", "doctor", "--json", "--cache-dir", str(live_demo.cache_dir),
            "--stall-after", repr(DEMO_STALL_AFTER / 60), "--watch", "3",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        shown: dict[str, set[DownloadState]] = {}
        kept: dict[str, DownloadState] = {}
        communicate = asyncio.ensure_future(doctor.communicate())
        while not communicate.done():
            snapshot = app.dashboard.snapshot
            for v in snapshot.own:
                shown.setdefault(v.request.repo_id, set()).add(v.state)
                kept.update(dict.fromkeys(v.kept_paths, v.state))
            for d in snapshot.others:
                shown.setdefault(d.repo_id, set()).add(d.state)
            await pilot.pause(0.1)
        out, err = communicate.result()
    assert b"Traceback" not in err, err.decode()
    report = json.loads(out)
    downloads = [d for d in report["downloads"] if d["repo_id"].startswith("hftop-demo/")]
    # The bytes a failed download of hftop's keeps for a resume: the dashboard shows them on the failed
    # download's row; from outside hftop, hftop's mark on the file tells the same.
    for d in downloads:
        if d["partial_file"] in kept:
            assert (d["verdict"], kept[d["partial_file"]]) == ("failed", DownloadState.FAILED), d
    verdicts = {d["repo_id"]: d["verdict"] for d in downloads if d["partial_file"] not in kept}
    assert {"slow tail", "stalled"} <= set(verdicts.values()), verdicts
    for repo_id, verdict in verdicts.items():
        assert verdict in {s.value for s in shown.get(repo_id, set())}, (repo_id, verdict, shown)
    assert doctor.returncode == 1, "a stall makes the exit status 1"


def test_doctor_names_a_dead_writers_file_through_the_endpoint_hftop_uses(fresh_devhub, tmp_path):
    """hf_hub_download leaves no tree listing behind: the name and size of a file whose writer died are asked
    of the endpoint hftop would use, here the config file's (doctor's environment has no HF_ENDPOINT), or
    the one given with --endpoint."""
    import os

    from tui.devhub.faults import Fault

    fresh_devhub.set_fault("hftop-demo/qwen-small/model.safetensors", Fault(stall_after=10 * MiB))
    cache = tmp_path / "hub"
    code = "import sys; from huggingface_hub import hf_hub_download; hf_hub_download(sys.argv[1], sys.argv[2], cache_dir=sys.argv[3])"
    env = {**os.environ, "HF_ENDPOINT": fresh_devhub.endpoint, "HF_HUB_DISABLE_XET": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "hftop-demo/qwen-small", "model.safetensors", str(cache)], env=env
    )
    try:
        _wait_for_partial(cache)
    finally:
        proc.kill()
        proc.wait()
    assert not list(cache.rglob("trees/*.json"))
    config = tmp_path / "config.toml"
    config.write_text(f'endpoint = "{fresh_devhub.endpoint}"\n')
    doctor_env = {k: v for k, v in os.environ.items() if k != "HF_ENDPOINT"} | {"HFTOP_CONFIG": str(config)}
    no_config = doctor_env | {"HFTOP_CONFIG": str(tmp_path / "none.toml")}
    for env, flags in ((doctor_env, []), (no_config, ["--endpoint", fresh_devhub.endpoint])):
        out = subprocess.run(
            [sys.executable, "-m", "tui", "doctor", "--cache-dir", str(cache), "--json", *flags],
            capture_output=True,
            text=True,
            env=env,
        )
        assert "Traceback" not in out.stderr, out.stderr
        [entry] = json.loads(out.stdout)["downloads"]
        assert entry["verdict"] == "process gone"
        assert (entry["file"], entry["expected_size"]) == ("model.safetensors", 90_000_000), flags
        assert not any("unknown" in line for line in entry["evidence"])
    # An endpoint that cannot tell: the row says why it has no name (it said nothing of it).
    gone = "http://127.0.0.1:9"
    out = subprocess.run(
        [sys.executable, "-m", "tui", "doctor", "--cache-dir", str(cache), "--json", "--endpoint", gone],
        capture_output=True, text=True, env=no_config,
    )  # fmt: skip
    [entry] = json.loads(out.stdout)["downloads"]
    assert entry["file"] is None
    assert f"its name and size are unknown: asked of {gone}: Cannot reach 127.0.0.1" in "\n".join(entry["evidence"])
    assert "(--endpoint URL asks another)" in "\n".join(entry["evidence"])


def _row(quiet: float, evidence: tuple[str, ...]) -> ExternalDownload:
    progress = PartialProgress(0.0, MiB, 90 * MiB, 0.0, None, quiet, DownloadState.DOWNLOADING, evidence)
    return ExternalDownload("/c/x.incomplete", "model", "a/b", "x", "f", None, 1, "python", "sleeping", (), 1, progress)


@pytest.mark.parametrize(
    ("quiet", "evidence", "advice"),
    [
        (2.0, ("1.0 MB/s arriving on its 1 connection",), "still arriving; nothing to do"),
        (31.0, ("last data arrived 31s ago",), "nothing new for 31s, under the stall threshold (5m"),
        (31.0, ("no new bytes for 31s, but its process works: hf_xet's threads ran 80% of a core",),
         "nothing new arrives, but its process works on what it holds"),
    ],
)  # fmt: skip
def test_the_advice_on_a_quiet_download_follows_its_evidence(quiet, evidence, advice):
    assert _advice(_row(quiet, evidence), 300.0).startswith(advice)
