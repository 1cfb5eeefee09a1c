"""Downloads hftop starts: real child processes fetching from the devhub into temporary caches."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock

from tui.core.download_plan import DownloadRequest, RequestError
from tui.core.downloads import DownloadState
from tui.demo import DEMO_DOWNLOADS
from tui.devhub.faults import Fault, parse_fault
from tui.downloads.supervisor import DownloadSupervisor, child_environment, runner_argv
from tui.probes.hub import plan_download

MiB = 1024 * 1024


def _plan(hub, cache, repo_id, **kwargs):
    """Over plain HTTP unless `disable_xet=False` is asked for."""
    kwargs.setdefault("disable_xet", True)
    return plan_download(DownloadRequest(repo_id, **kwargs), endpoint=hub.endpoint, cache_dir=cache, token=False)


def _wait(supervisor, download_id, condition, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        view = supervisor.view(download_id)
        if condition(view):
            return view
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last view: {view}")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def _partials(cache: Path) -> list[Path]:
    return list(cache.rglob("*.incomplete"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_served(hub, cache: Path, plan) -> None:
    """Every planned file is in the snapshot with the bytes the devhub served."""
    folder = cache / f"models--{plan.request.repo_id.replace('/', '--')}" / "snapshots" / plan.commit
    for planned in plan.files:
        served = hub.file(plan.request.repo_id, planned.path)
        assert _sha256(folder / planned.path) == hashlib.sha256(served.read(0, served.size)).hexdigest()


@pytest.fixture
def supervisor_for(tmp_path):
    made = []

    def make(hub, **kwargs):
        kwargs.setdefault("stall_after", 300)
        supervisor = DownloadSupervisor(tmp_path / "hub", hub.endpoint, **kwargs)
        made.append(supervisor)
        return supervisor

    yield make
    for supervisor in made:
        supervisor.stop_all()


def test_download_completes_with_the_served_bytes_and_no_token(fresh_devhub, tmp_path, supervisor_for):
    cache = tmp_path / "hub"
    supervisor = supervisor_for(fresh_devhub, environ={**os.environ, "HF_TOKEN": "hf_secret_for_the_test"})
    plan = _plan(fresh_devhub, cache, "hftop-demo/gpt-micro")
    assert [f.path for f in plan.files] == ["config.json", "model.safetensors"]
    download_id = supervisor.start(plan)
    view = _wait(supervisor, download_id, lambda v: not v.state.active, what="the end")
    assert view.state is DownloadState.DONE, view.error
    assert view.done_bytes == plan.bytes_to_fetch
    _assert_served(fresh_devhub, cache, plan)
    assert (cache / "models--hftop-demo--gpt-micro" / "refs" / "main").read_text() == plan.commit
    assert _partials(cache) == []
    assert not _alive(view.pid)
    time.sleep(1.1)
    later = supervisor.view(download_id)
    assert (later.age, later.quiet_for) == (view.age, view.quiet_for), "durations stop when the download ends"
    resolves = [r for r in fresh_devhub.requests() if "/resolve/" in r.path or r.path.startswith("/lfs/")]
    assert resolves and not any(r.authorized for r in resolves), "a token went to a non-official endpoint"


def test_cancel_stops_the_process_group_and_leaves_no_partial_then_retry_completes(
    fresh_devhub, tmp_path, supervisor_for
):
    cache = tmp_path / "hub"
    fresh_devhub.set_fault("hftop-demo/phi-tiny/model.safetensors", Fault(throttle=8_000_000))
    supervisor = supervisor_for(fresh_devhub)
    plan = _plan(fresh_devhub, cache, "hftop-demo/phi-tiny")
    download_id = supervisor.start(plan)
    running = _wait(supervisor, download_id, lambda v: v.partial_bytes > 12 * MiB, what="12 MiB")
    assert running.state is DownloadState.DOWNLOADING and _partials(cache)
    assert running.rate is not None and 0.75 * 8_000_000 < running.rate < 1.25 * 8_000_000

    supervisor.cancel(download_id)
    cancelled = supervisor.view(download_id)
    assert cancelled.state is DownloadState.CANCELLED
    assert not _alive(running.pid)
    assert _partials(cache) == [], "cancel left a partial file"
    assert cancelled.lost_bytes >= 12 * MiB

    fresh_devhub.clear_faults()
    supervisor.retry(download_id)
    done = _wait(supervisor, download_id, lambda v: v.attempt == 2 and not v.state.active, what="the retry")
    assert done.state is DownloadState.DONE, done.error
    assert done.lost_bytes == cancelled.lost_bytes
    # config.json was finished by the first attempt: the retry only fetched the big file again.
    assert done.total_bytes == 120_000_000
    _assert_served(fresh_devhub, cache, plan)


def _cancelled_keeping_20_mib(hub, cache, supervisor):
    """hftop-demo/phi-tiny cancelled with its bytes kept once 20 MiB are on disk: (id, plan, its view)."""
    hub.set_fault("hftop-demo/phi-tiny/model.safetensors", Fault(throttle=8_000_000))
    plan = _plan(hub, cache, "hftop-demo/phi-tiny")
    download_id = supervisor.start(plan)
    _wait(supervisor, download_id, lambda v: v.on_disk >= 20 * MiB, what="20 MiB on disk")
    supervisor.cancel(download_id, keep=True)
    return download_id, plan, supervisor.view(download_id)


def _retried(supervisor, download_id, attempt, **kwargs):
    supervisor.retry(download_id, **kwargs)
    return _wait(supervisor, download_id, lambda v: v.attempt == attempt and not v.state.active, what="the retry")


def _origin_ranges(hub, since: int) -> list[str | None]:
    return [r.range for r in hub.requests()[since:] if r.method == "GET" and r.server == "origin"]


def _doctor(hub, cache) -> tuple[int, dict]:
    out = subprocess.run(
        [sys.executable, "-m", "tui", "doctor", "--json", "--cache-dir", str(cache), "--endpoint", hub.endpoint],
        capture_output=True,
        text=True,
    )
    assert "Traceback" not in out.stderr, out.stderr
    [entry] = json.loads(out.stdout)["downloads"]
    return out.returncode, entry


def test_bytes_kept_by_a_cancel_or_a_failure_get_the_same_verdict_in_doctor(fresh_devhub, tmp_path, supervisor_for):
    """From outside hftop (doctor, or the dashboard started again), the bytes a cancel kept are a cancelled
    download, not a dead writer's orphan; those a failed resume kept are a failed download, with its reason."""
    cache = tmp_path / "hub"
    supervisor = supervisor_for(fresh_devhub)
    download_id, plan, cancelled = _cancelled_keeping_20_mib(fresh_devhub, cache, supervisor)
    assert cancelled.state is DownloadState.CANCELLED
    code, entry = _doctor(fresh_devhub, cache)
    assert (entry["verdict"], entry["file"], code) == ("cancelled", "model.safetensors", 0), entry
    assert entry["evidence"][0].startswith("cancelled in hftop"), entry["evidence"]
    assert "hftop resume" in entry["advice"]

    fresh_devhub.set_fault("hftop-demo/phi-tiny/model.safetensors", Fault(ignore_range=True))
    refused = _retried(supervisor, download_id, 2)
    assert refused.state is DownloadState.FAILED
    code, entry = _doctor(fresh_devhub, cache)
    assert (entry["verdict"], code) == ("failed", 1), entry
    assert "ignored the Range request" in entry["evidence"][0], entry["evidence"]
    assert "kept its bytes" in entry["advice"]

    fresh_devhub.clear_faults()
    done = _retried(supervisor, download_id, 3)
    assert done.state is DownloadState.DONE and done.reused_bytes == cancelled.kept_bytes, done
    blob = cache / "models--hftop-demo--phi-tiny" / "blobs" / plan.files[1].etag
    assert blob.is_file() and not os.listxattr(blob), "the mark went when the resume began"


def test_a_resume_the_server_refuses_is_said_and_r_then_downloads_afresh(fresh_devhub, tmp_path, supervisor_for):
    cache = tmp_path / "hub"
    supervisor = supervisor_for(fresh_devhub)
    download_id, plan, cancelled = _cancelled_keeping_20_mib(fresh_devhub, cache, supervisor)
    kept = cancelled.kept_bytes
    assert kept >= 20 * MiB

    fresh_devhub.set_fault("hftop-demo/phi-tiny/model.safetensors", Fault(ignore_range=True))
    refused = _retried(supervisor, download_id, 2)
    assert refused.state is DownloadState.FAILED and refused.fresh_needed
    assert "ignored the Range request" in refused.error and "Traceback" not in refused.error
    assert refused.kept_bytes == kept, "nothing was written to the kept bytes"
    blob = cache / "models--hftop-demo--phi-tiny" / "blobs" / plan.files[1].etag
    assert not blob.exists()

    done = _retried(supervisor, download_id, 3, fresh=True)
    assert done.state is DownloadState.DONE, done.error
    assert done.lost_bytes >= kept and done.reused_bytes == 0
    _assert_served(fresh_devhub, cache, plan)
    assert _partials(cache) == []


def test_a_xet_download_says_so_and_a_stuck_one_restarted_over_plain_http_completes(
    fresh_devhub, tmp_path, supervisor_for
):
    cache = tmp_path / "hub"
    repo, name = "hftop-demo/qwen-small", "model.safetensors"
    # hf_xet fetches its terms at once, in any order, and writes them in file order: past 60 MiB every
    # term stalls, and one below may wait behind them, so what is on disk and what was received differ
    # from run to run. What the devhub sent is the truth to hold the figures to.
    fresh_devhub.set_fault(f"{repo}/{name}", Fault(throttle=20_000_000, stall_after=60 * MiB, over="xet"))
    supervisor = supervisor_for(fresh_devhub, stall_after=3.0)
    plan = _plan(fresh_devhub, cache, repo, disable_xet=False)
    download_id = supervisor.start(plan)
    ahead = 0  # the most a view counted beyond the bytes on disk
    deadline = time.monotonic() + 60
    while (view := supervisor.view(download_id)).state is not DownloadState.STALLED:
        assert time.monotonic() < deadline, f"timed out waiting for the stall over Xet; last view: {view}"
        ahead = max(ahead, view.done_bytes - view.on_disk)
        time.sleep(0.05)
    stuck = view
    assert stuck.transport == "Xet" and "hf_xet" in stuck.transport_why
    sent = fresh_devhub.bytes_sent(repo, name, "xet")
    assert sent > 0 and any(r.server == "xorbs" for r in fresh_devhub.requests())
    # The sockets count the responses' headers too.
    assert sent - MiB <= stuck.done_bytes <= sent + 64 * 1024, "bytes received count, not only whole terms on disk"
    assert ahead > 4 * MiB, "terms arrive long before hf_xet writes them"

    before = len(fresh_devhub.requests())
    supervisor.retry(download_id, disable_xet=True)
    done = _wait(supervisor, download_id, lambda v: v.attempt == 2 and not v.state.active, what="the restart")
    assert done.state is DownloadState.DONE, done.error
    # What hf_xet had written is kept and resumed over plain HTTP with a Range request.
    kept = stuck.on_disk
    assert _origin_ranges(fresh_devhub, before) == [f"bytes={kept}-" if kept else None]
    assert done.transport == "plain HTTP" and done.transport_why.endswith("started with HF_HUB_DISABLE_XET=1")
    assert not kept or done.transport_why.startswith("resumed from bytes on disk"), done.transport_why
    assert done.plan.request.disable_xet and done.reused_bytes == kept
    _assert_served(fresh_devhub, cache, plan)


def test_the_demos_dropping_download_fails_in_words_and_r_resumes_it_to_the_end(fresh_devhub, tmp_path, supervisor_for):
    """The demo's bloom-mini: its connection drops at 20 MiB on every one of huggingface_hub's tries, then
    serves again: `R` resumes from the kept bytes and completes, the cure the advice names."""
    cache = tmp_path / "hub"
    [fault] = [fault for request, fault in DEMO_DOWNLOADS if request.repo_id == "hftop-demo/bloom-mini"]
    fresh_devhub.set_fault(*parse_fault(f"hftop-demo/bloom-mini/*:{fault}"))
    supervisor = supervisor_for(fresh_devhub)
    download_id = supervisor.start(_plan(fresh_devhub, cache, "hftop-demo/bloom-mini"))
    view = _wait(supervisor, download_id, lambda v: not v.state.active, timeout=90, what="the failure")
    assert view.state is DownloadState.FAILED
    assert "closed the connection" in view.error and "Traceback" not in view.error
    # Its bytes are kept for a retry: nothing is lost, and they show as hftop's, not as an orphan.
    assert view.lost_bytes == 0 and view.kept_bytes >= 20 * MiB
    assert [str(p) for p in _partials(cache)] == list(view.kept_paths)

    before = len(fresh_devhub.requests())
    done = _retried(supervisor, download_id, 2)
    assert done.state is DownloadState.DONE, done.error
    assert _origin_ranges(fresh_devhub, before) == [f"bytes={view.kept_bytes}-"], "resumed from the kept bytes"
    _assert_served(fresh_devhub, cache, _plan(fresh_devhub, cache, "hftop-demo/bloom-mini"))
    assert _partials(cache) == []


def test_cancel_that_keeps_the_bytes_then_retry_resumes_from_them(fresh_devhub, tmp_path, supervisor_for):
    cache = tmp_path / "hub"
    supervisor = supervisor_for(fresh_devhub)
    download_id, plan, cancelled = _cancelled_keeping_20_mib(fresh_devhub, cache, supervisor)
    assert cancelled.state is DownloadState.CANCELLED
    assert cancelled.kept_bytes >= 20 * MiB and cancelled.kept_bytes % (10 * MiB) == 0
    assert cancelled.lost_bytes < 10 * MiB, "at most the unwritten step is lost"
    small = sum(f.size or 0 for f in plan.files if (f.size or 0) < MiB)  # fetched whole before the weights
    assert cancelled.done_bytes == small + cancelled.kept_bytes, "what was not written went with its process"
    assert len(_partials(cache)) == 1

    fresh_devhub.clear_faults()
    before = len(fresh_devhub.requests())
    done = _retried(supervisor, download_id, 2)
    assert done.state is DownloadState.DONE, done.error
    assert _origin_ranges(fresh_devhub, before) == [f"bytes={cancelled.kept_bytes}-"]
    assert done.reused_bytes == cancelled.kept_bytes
    assert done.transport_why.startswith("resumed from bytes on disk"), done.transport_why
    _assert_served(fresh_devhub, cache, plan)
    assert _partials(cache) == []


def test_an_empty_partial_left_by_a_stopped_download_is_not_resumed_but_replaced(
    fresh_devhub, tmp_path, supervisor_for
):
    # hf_xet writes in file order: stopped while its first term waits, it leaves an empty partial (and
    # hftop's link to it). There is nothing to reuse: the file is fetched whole, without a Range request.
    cache = tmp_path / "hub"
    plan = _plan(fresh_devhub, cache, "hftop-demo/gpt-micro")
    weights = next(f for f in plan.files if f.path == "model.safetensors")
    blobs = cache / "models--hftop-demo--gpt-micro" / "blobs"
    blobs.mkdir(parents=True)
    empty = [blobs / f"{weights.etag}.{tag}.incomplete" for tag in ("0badc0de", "5ca1ab1e")]
    for path in empty:
        path.touch()
    supervisor = supervisor_for(fresh_devhub)
    before = len(fresh_devhub.requests())
    download_id = supervisor.start(plan)
    done = _wait(supervisor, download_id, lambda v: not v.state.active, what="the end")
    assert done.state is DownloadState.DONE, done.error
    origin = [r for r in fresh_devhub.requests()[before:] if r.method == "GET" and r.server == "origin"]
    assert [r.range for r in origin] == [None], "the weights are fetched whole"
    assert done.reused_bytes == 0 and not done.transport_why.startswith("resumed"), done.transport_why
    _assert_served(fresh_devhub, cache, plan)
    assert _partials(cache) == [], "the empty partials went"


def test_kept_bytes_can_be_deleted_unless_another_process_holds_the_files_lock(fresh_devhub, tmp_path, supervisor_for):
    cache = tmp_path / "hub"
    supervisor = supervisor_for(fresh_devhub)
    download_id, plan, cancelled = _cancelled_keeping_20_mib(fresh_devhub, cache, supervisor)
    [partial] = _partials(cache)
    lock = cache / ".locks" / partial.parent.parent.name / f"{partial.name.split('.')[0]}.lock"
    with FileLock(lock):  # as huggingface_hub holds it while it fetches the same file
        assert "holds its lock" in (supervisor.discard_kept(download_id) or "")
    assert _partials(cache) == [partial], "nothing a live process may use is deleted"
    assert supervisor.discard_kept(download_id) is None
    assert _partials(cache) == []
    after = supervisor.view(download_id)
    assert after.kept_bytes == 0 and after.kept_paths == () and after.state is DownloadState.CANCELLED
    assert after.done_bytes < cancelled.done_bytes


def test_a_stall_shows_as_stalled_after_the_threshold(fresh_devhub, tmp_path, supervisor_for):
    cache = tmp_path / "hub"
    fresh_devhub.set_fault("hftop-demo/qwen-small/model.safetensors", Fault(stall_after=10 * MiB))
    supervisor = supervisor_for(fresh_devhub, stall_after=2.0)
    plan = _plan(fresh_devhub, cache, "hftop-demo/qwen-small", read_timeout=600)
    download_id = supervisor.start(plan)
    view = _wait(supervisor, download_id, lambda v: v.state is DownloadState.STALLED, what="the stall")
    assert view.quiet_for >= 2.0 and view.rate == 0.0
    assert view.partial_bytes == 10 * MiB
    supervisor.cancel(download_id)
    assert _partials(cache) == []


def test_a_stall_with_a_short_read_timeout_ends_in_a_timeout_error_in_words(fresh_devhub, tmp_path, supervisor_for):
    cache = tmp_path / "hub"
    fresh_devhub.set_fault("hftop-demo/qwen-small/model.safetensors", Fault(stall_after=10 * MiB))
    supervisor = supervisor_for(fresh_devhub)
    download_id = supervisor.start(_plan(fresh_devhub, cache, "hftop-demo/qwen-small", read_timeout=1))
    view = _wait(supervisor, download_id, lambda v: not v.state.active, timeout=60, what="the timeout")
    assert view.state is DownloadState.FAILED
    assert "stopped sending data (read timed out" in view.error
    assert view.kept_bytes == 10 * MiB and len(_partials(cache)) == 1


def test_a_killed_runner_is_a_failure_whose_bytes_a_retry_resumes(fresh_devhub, tmp_path, supervisor_for):
    cache = tmp_path / "hub"
    fresh_devhub.set_fault("hftop-demo/phi-tiny/model.safetensors", Fault(throttle=8_000_000))
    supervisor = supervisor_for(fresh_devhub)
    download_id = supervisor.start(_plan(fresh_devhub, cache, "hftop-demo/phi-tiny"))
    view = _wait(supervisor, download_id, lambda v: v.partial_bytes > 10 * MiB, what="a partial")
    assert _partials(cache)
    os.kill(view.pid, signal.SIGKILL)  # no cleanup runs in the child
    view = _wait(supervisor, download_id, lambda v: not v.state.active, what="the end")
    assert view.state is DownloadState.FAILED and "ended unexpectedly" in view.error
    assert view.kept_bytes >= 10 * MiB and len(_partials(cache)) == 2, "huggingface_hub's name and hftop's link"

    fresh_devhub.clear_faults()
    supervisor.retry(download_id)
    done = _wait(supervisor, download_id, lambda v: v.attempt == 2 and not v.state.active, what="the retry")
    assert done.state is DownloadState.DONE, done.error
    assert _partials(cache) == [], "both names of the resumed bytes are gone"


def test_the_runner_stops_and_cleans_up_when_its_owner_dies(fresh_devhub, tmp_path):
    cache = tmp_path / "hub"
    fresh_devhub.set_fault("hftop-demo/phi-tiny/model.safetensors", Fault(throttle=4_000_000))
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    plan = _plan(fresh_devhub, cache, "hftop-demo/phi-tiny")
    argv = runner_argv(
        plan,
        endpoint=fresh_devhub.endpoint,
        cache_dir=cache,
        send_token=False,
        owner_pid=owner.pid,
        python=sys.executable,
    )
    runner = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _partials(cache):
            assert time.monotonic() < deadline, "no partial file appeared"
            time.sleep(0.05)
        owner.kill()
        owner.wait()
        assert runner.wait(timeout=10) == 130
        assert _partials(cache) == []
    finally:
        runner.kill()
        owner.kill()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            dict(repo_id="hftop-demo/no-such-model"),
            "No model hftop-demo/no-such-model at 127.0.0.1",
            id="unknown-repo",
        ),
        pytest.param(dict(repo_id="hftop-demo/gpt-micro", repo_type="dataset"), "No dataset", id="wrong-type"),
        pytest.param(dict(repo_id="hftop-demo/gpt-micro", revision="v9"), "No revision 'v9'", id="unknown-revision"),
        pytest.param(
            dict(repo_id="hftop-demo/gpt-micro", patterns=("model.bin",)), "No file 'model.bin'", id="unknown-file"
        ),
        pytest.param(dict(repo_id="hftop-demo//gpt"), "is not a repo id", id="malformed"),
    ],
)
def test_plan_errors_are_sentences(devhub, tmp_path, kwargs, message):
    with pytest.raises(RequestError, match=message):
        plan_download(DownloadRequest(**kwargs), endpoint=devhub.endpoint, cache_dir=tmp_path, token=False)


def test_unreachable_endpoint_is_a_sentence(tmp_path):
    with pytest.raises(RequestError, match="Cannot reach 127.0.0.1:9: connection refused"):
        plan_download(DownloadRequest("org/name"), endpoint="http://127.0.0.1:9", cache_dir=tmp_path, token=False)


def test_plan_knows_what_is_cached_and_what_fits(devhub, demo_cache):
    plan = plan_download(
        DownloadRequest("hftop-demo/tiny-bert"), endpoint=devhub.endpoint, cache_dir=demo_cache, token=False
    )
    assert plan.to_fetch == () and plan.fits
    assert plan.free_bytes and plan.free_bytes > 0


def test_child_environment_is_explicit_and_keeps_tokens_from_mirrors(tmp_path):
    base = {"PATH": "/usr/bin", "HF_TOKEN": "hf_x", "HF_ENDPOINT": "https://elsewhere", "HF_HUB_OFFLINE": "1"}
    request = DownloadRequest("org/x", disable_xet=True, read_timeout=60)
    env = child_environment(
        base, endpoint="https://hf-mirror.com", cache_dir=tmp_path, request=request, send_token=False
    )
    assert env["HF_ENDPOINT"] == "https://hf-mirror.com" and env["HF_HUB_CACHE"] == str(tmp_path)
    assert env["HF_HUB_DISABLE_XET"] == "1" and env["HF_HUB_DOWNLOAD_TIMEOUT"] == "60"
    assert "HF_TOKEN" not in env and env["HF_HUB_DISABLE_IMPLICIT_TOKEN"] == "1"
    assert "HF_HUB_OFFLINE" not in env and env["PATH"] == "/usr/bin"
    official = child_environment(
        base, endpoint="https://huggingface.co", cache_dir=tmp_path, request=DownloadRequest("org/x"), send_token=True
    )
    assert official["HF_TOKEN"] == "hf_x" and "HF_HUB_DISABLE_XET" not in official


def test_no_eta_rests_on_the_bytes_of_a_file_already_done(tmp_path):
    """At the start of a snapshot, config.json's kilobyte arrives, then the big file's transfer takes seconds
    to begin: a speed of a few hundred B/s then is true, but an ETA of days from it for the big file is not.
    The ETA waits for the current file's own bytes."""
    from tui.core.download_plan import DownloadPlan, PlannedFile
    from tui.downloads.supervisor import _Attempt

    now = [1000.0]
    supervisor = DownloadSupervisor(tmp_path, "http://127.0.0.1:9", stall_after=300, clock=lambda: now[0])
    files = (
        PlannedFile("config.json", 1_300, "a" * 40, False),
        PlannedFile("model.safetensors", 160_000_000, "b" * 64, False),
    )
    attempt = _Attempt(DownloadPlan(DownloadRequest("org/name"), "c" * 40, files, None), 1, now[0], 0)
    supervisor._attempts[1] = attempt
    supervisor._apply(attempt, "received", {"bytes": 0})
    supervisor._apply(attempt, "file", {"path": "config.json"})
    supervisor._apply(attempt, "file_done", {"path": "config.json"})
    supervisor._apply(attempt, "file", {"path": "model.safetensors"})
    now[0] += 0.5
    # The count of bytes received is reported every half second: config.json's come after the big file began,
    # then the big file's own requests before hf_xet fetches (the Xet token: a few hundred bytes).
    supervisor._apply(attempt, "received", {"bytes": 1_300})
    assert supervisor.view(1).rate, "the speed is shown: bytes did arrive"
    for i in range(3):
        now[0] += 1.0
        supervisor._apply(attempt, "received", {"bytes": 1_300 + 100 * i})
        view = supervisor.view(1)
        assert view.eta is None, view
    now[0] += 1.0
    supervisor._apply(attempt, "received", {"bytes": 1_300 + 2_000_000})
    assert supervisor.view(1).eta is not None


def test_hftops_own_download_dying_out_before_a_stall_is_never_a_slow_tail(tmp_path):
    """The rule of the core's table test, through the supervisor's own samples (a `received` line each 0.5 s)."""
    from tui.core.download_plan import DownloadPlan, PlannedFile
    from tui.downloads.supervisor import _Attempt

    now = [1000.0]
    supervisor = DownloadSupervisor(tmp_path, "http://127.0.0.1:9", stall_after=10, clock=lambda: now[0])
    files = (PlannedFile("model.safetensors", 10_000 * MiB, "b" * 64, False),)
    attempt = _Attempt(DownloadPlan(DownloadRequest("org/name"), "c" * 40, files, None), 1, now[0], 0)
    supervisor._attempts[1] = attempt
    supervisor._apply(attempt, "file", {"path": "model.safetensors"})
    received = [i * 4 * MiB for i in range(60)]  # 8 MiB/s for 30 s
    received += [received[-1] + MiB, received[-1] + MiB + 100_000, received[-1] + MiB + 120_000]
    states = []
    for n in received + [received[-1]] * 40:
        now[0] += 0.5
        supervisor._apply(attempt, "received", {"bytes": n})
        states.append(supervisor.view(1).state)
    assert DownloadState.SLOW_TAIL not in states and states[-1] is DownloadState.STALLED, states


def test_a_download_whose_retries_get_no_further_is_stalled_and_done_stays_where_it_got(
    fresh_devhub, tmp_path, supervisor_for
):
    """The connection drops at 30 MB, again on each of huggingface_hub's retries, which ask for the file
    from its last 10 MiB step on disk (20.97 MB): the bytes they bring again are no progress. Done stays at
    30 MB (it climbed to 73 MB), and the download is stalled, with the speed of its retries, until
    huggingface_hub gives up."""
    fresh_devhub.set_fault(
        "hftop-demo/phi-tiny/model.safetensors", Fault(throttle=4_000_000, drop_after=30_000_000, drop_times=20)
    )
    cache = tmp_path / "hub"
    supervisor = supervisor_for(fresh_devhub, stall_after=6)
    download_id = supervisor.start(_plan(fresh_devhub, cache, "hftop-demo/phi-tiny"))
    seen = []
    deadline = time.monotonic() + 120
    while (view := supervisor.view(download_id)).state.active or view.state is DownloadState.STARTING:
        assert time.monotonic() < deadline, seen[-5:]
        seen.append((view.state, view.done_bytes, view.rate))
        if view.state is DownloadState.STALLED and view.rate:
            from tui.widgets.downloads.verdict import describe

            said = describe(view, 6).plain
            recorded = view.stall_evidence or ""  # what the verdict history keeps
        time.sleep(0.2)
    assert view.state is DownloadState.FAILED, view
    assert max(done for _, done, _ in seen) <= 650 + 30_000_000 + 64 * 1024, max(done for _, done, _ in seen)
    assert any(state is DownloadState.STALLED and rate for state, _, rate in seen), "stalled, while retries bring bytes"
    assert said.startswith("model.safetensors (2 of 2)") and "No progress for" in said, said
    assert "bytes arrive, but each retry fetches again" in said, said
    assert recorded.startswith("no progress for") and "gets no further" in recorded, recorded
    assert fresh_devhub.bytes_sent("hftop-demo/phi-tiny", "model.safetensors", "http") > 40_000_000, "it retried"


def test_bytes_a_new_download_resumes_from_are_no_longer_the_cancelled_ones(fresh_devhub, tmp_path, supervisor_for):
    """Cancelled with its bytes kept, then the same repo started again (a): the new download resumes from
    them, and the cancelled row no longer offers them (x on it would delete the new download's file)."""
    cache = tmp_path / "hub"
    supervisor = supervisor_for(fresh_devhub)
    first, plan, cancelled = _cancelled_keeping_20_mib(fresh_devhub, cache, supervisor)
    assert cancelled.kept_bytes >= 20 * MiB
    fresh_devhub.clear_faults()
    second = supervisor.start(plan)
    done = _wait(supervisor, second, lambda v: not v.state.active, what="the second download")
    assert done.state is DownloadState.DONE and done.reused_bytes == cancelled.kept_bytes, done
    assert supervisor.view(first).kept_bytes == 0 and supervisor.view(first).kept_paths == ()
