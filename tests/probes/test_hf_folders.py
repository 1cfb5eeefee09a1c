"""The xet folder made by real hf_xet downloads from the devhub, the datasets cache made by the `datasets`
library itself on local files and a loopback URL: what each part holds, who uses it, what a cleanup offers,
and that a part a live process holds is never offered nor deleted."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import psutil
import pytest

from tui.actions.folders import FolderPlanChanged, execute_folder_cleanup
from tui.core.folders import Area, HfFolders, PartKind, plan_folder_cleanup
from tui.devhub.faults import Fault
from tui.probes.hf_folders import datasets_cache_dir, default_folders, scan_hf_folders

REPO, FILE = "hftop-demo/tiny-bert", "model.safetensors"
DOWNLOAD = "import sys; from huggingface_hub import hf_hub_download; hf_hub_download(sys.argv[1], sys.argv[2], cache_dir=sys.argv[3])"
TWO_DAYS = 2 * 86_400


def _xet_env(devhub, xet: Path) -> dict[str, str]:
    env = {**os.environ, "HF_ENDPOINT": devhub.endpoint, "HF_XET_CACHE": str(xet), "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    env.pop("HF_XET_LOG_DEST", None)
    env.pop("HF_HUB_DISABLE_XET", None)
    return env


def _age(path: Path, seconds: float) -> None:
    when = time.time() - seconds
    for top, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.utime(os.path.join(top, name), (when, when), follow_symlinks=False)
    os.utime(path, (when, when))


def _parts(folders: HfFolders, kind: PartKind):
    return [p for p in folders.parts if p.kind is kind]


@pytest.fixture
def xet_folder(devhub, tmp_path) -> Path:
    """Two finished hf_xet downloads' worth: their logs and the endpoint's folder, as hf_xet 1.8 leaves them."""
    xet = tmp_path / "xet"
    for n in range(2):
        subprocess.run(
            [sys.executable, "-c", DOWNLOAD, REPO, FILE, str(tmp_path / f"hub{n}")],
            env=_xet_env(devhub, xet), check=True, timeout=120,
        )  # fmt: skip
    return xet


def test_the_xet_folder_of_real_hf_xet_runs_is_read_by_part(xet_folder, tmp_path):
    folders = scan_hf_folders(xet_folder, tmp_path / "no-datasets", now=time.time())
    (logs,) = _parts(folders, PartKind.LOGS)
    assert logs.files == 2 and logs.size == sum(f.stat().st_size for f in (xet_folder / "logs").iterdir())
    assert not logs.users, "both processes are gone"
    assert not logs.offered and "2 under a day old" in logs.kept
    (staging,) = _parts(folders, PartKind.STAGING)
    assert staging.path.parent.parent == xet_folder and staging.label.startswith("127.0.0.1")
    assert folders.size(Area.XET) == sum(p.size for p in folders.parts)
    assert not folders.datasets_exists and not folders.warnings


def test_gone_processes_logs_older_than_a_day_and_an_old_chunk_cache_are_offered_and_deleted(xet_folder, tmp_path):
    logs = sorted((xet_folder / "logs").iterdir())
    _age(logs[0], TWO_DAYS)
    # hf_xet 1.1-1.2 kept a chunk cache beside the shard cache; 1.8 makes none, so it is laid out as they did.
    tag = next(p for p in xet_folder.iterdir() if p.name != "logs")
    chunks = tag / "chunk-cache" / "AAAA"
    chunks.mkdir(parents=True)
    (chunks / "0-1000.chunk").write_bytes(os.urandom(300_000))
    _age(tag / "chunk-cache", 3600)
    folders = scan_hf_folders(xet_folder, tmp_path / "no-datasets")
    (log_part,) = _parts(folders, PartKind.LOGS)
    assert log_part.offered == (logs[0],) and log_part.offered_bytes == logs[0].stat().st_size
    (chunk_part,) = _parts(folders, PartKind.CHUNK_CACHE)
    assert chunk_part.offered == (tag / "chunk-cache",) and chunk_part.offered_bytes == 300_000
    plan = plan_folder_cleanup(folders)
    assert plan.frees == 300_000 + logs[0].stat().st_size
    outcome = execute_folder_cleanup(plan, frozenset(), xet_folder, tmp_path / "no-datasets")
    assert not outcome.errors and outcome.freed >= 300_000
    assert not logs[0].exists() and logs[1].exists() and not (tag / "chunk-cache").exists()
    assert (tag / "staging").is_dir(), "only what was offered goes"


def test_a_live_hf_xet_process_keeps_its_log_and_the_folder_it_stages_in(xet_folder, fresh_devhub, tmp_path):
    fresh_devhub.set_fault(f"{REPO}/*", Fault(stall_after=0))
    tag = next(p for p in xet_folder.iterdir() if p.name != "logs")
    (tag / "chunk-cache").mkdir()
    (tag / "chunk-cache" / "old.chunk").write_bytes(b"x" * 1000)
    (tag / "staging" / "upload-1").write_bytes(b"y" * 500)
    _age(tag, 3600)
    for log in (xet_folder / "logs").iterdir():
        _age(log, TWO_DAYS)
    proc = subprocess.Popen(
        [sys.executable, "-c", DOWNLOAD, REPO, FILE, str(tmp_path / "hub-live")],
        env=_xet_env(fresh_devhub, xet_folder), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not any(p.name.endswith(f"_{proc.pid}.log") for p in (xet_folder / "logs").iterdir()):
            assert time.monotonic() < deadline, "hf_xet wrote no log"
            time.sleep(0.2)
        live_log = next(p for p in (xet_folder / "logs").iterdir() if p.name.endswith(f"_{proc.pid}.log"))
        _age(live_log, TWO_DAYS)  # even an old-looking log is kept while its writer lives
        folders = scan_hf_folders(xet_folder, tmp_path / "no-datasets")
        (logs,) = _parts(folders, PartKind.LOGS)
        assert proc.pid in logs.users
        assert live_log not in logs.offered and len(logs.offered) == 2, "the gone processes' logs still go"
        for kind in (PartKind.CHUNK_CACHE, PartKind.STAGING):
            (part,) = [p for p in _parts(folders, kind) if tag in p.path.parents]  # the first hub's endpoint
            assert not part.offered and f"PID {proc.pid}" in part.kept, (kind, part)
        plan = plan_folder_cleanup(folders)
        outcome = execute_folder_cleanup(plan, frozenset(), xet_folder, tmp_path / "no-datasets")
        assert not outcome.errors
        assert live_log.exists() and (tag / "chunk-cache" / "old.chunk").exists()
        assert (tag / "staging" / "upload-1").exists()
    finally:
        proc.kill()
        proc.wait()
    folders = scan_hf_folders(xet_folder, tmp_path / "no-datasets")
    (staging,) = [p for p in _parts(folders, PartKind.STAGING) if tag in p.path.parents]
    assert staging.offered == (tag / "staging" / "upload-1",), "once hf_xet is gone, the upload it left goes"


# --- the datasets cache -------------------------------------------------------------------------------
BUILD = """
import sys
import datasets
from datasets import DownloadConfig, DownloadManager
a, b, url = sys.argv[1:4]
datasets.load_dataset("csv", data_files=a)
datasets.load_dataset("csv", data_files=b)
DownloadManager(download_config=DownloadConfig()).download_and_extract(url)
"""
HOLD_ARROW = """
import sys, time
import datasets
d = datasets.load_dataset("csv", data_files=sys.argv[1])
print(len(d["train"]), flush=True)
time.sleep(600)
"""
HOLD_LOCK = """
import sys, time
from filelock import FileLock
with FileLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def served(tmp_path):
    """A loopback HTTP server for a zip, as a dataset's script downloads one."""
    root = tmp_path / "www"
    root.mkdir()
    with zipfile.ZipFile(root / "data.zip", "w") as z:
        z.writestr("data/train.csv", "x,y\n" + "".join(f"{i},{i * i}\n" for i in range(5000)))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/data.zip"
    server.shutdown()


@pytest.fixture
def datasets_cache(tmp_path, served):
    """Two Arrow caches from local CSV files, and a download with its extracted archive, by `datasets` itself."""
    cache = tmp_path / "datasets"
    csvs = []
    for name in ("a", "b"):
        csvs.append(path := tmp_path / f"{name}.csv")
        path.write_text("x,y\n" + "".join(f"{i},{i * 7 % 13}\n" for i in range(20_000)))
    env = {**os.environ, "HF_DATASETS_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "0"}
    subprocess.run([sys.executable, "-c", BUILD, *map(str, csvs), served], env=env, check=True, timeout=180)
    _age(cache, 3600)
    return cache, csvs, env


def _held_by(code: str, arg: str, env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", code, arg], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline(), "the holder did not start"
    return proc


def test_the_datasets_cache_made_by_datasets_is_read_by_part(datasets_cache, tmp_path):
    cache, _, _ = datasets_cache
    folders = scan_hf_folders(tmp_path / "no-xet", cache)
    arrow = _parts(folders, PartKind.ARROW)
    assert len(arrow) == 2 and all(p.label.startswith("csv/default-") and p.size > 10_000 for p in arrow)
    assert all(any(f.suffix == ".arrow" for f in p.path.iterdir()) for p in arrow)
    (downloads,) = _parts(folders, PartKind.DOWNLOADS)
    assert downloads.files == 3, "the zip, its .json and its .lock"
    (extracted,) = _parts(folders, PartKind.EXTRACTED)
    assert extracted.size == len("x,y\n" + "".join(f"{i},{i * i}\n" for i in range(5000)))
    (locks,) = _parts(folders, PartKind.LOCKS)
    assert locks.files >= 4 and len(locks.offered) == locks.files, "the builders' locks, none held"
    total = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())
    assert folders.size(Area.DATASETS) == total
    assert not any(p.offered for p in arrow), "an Arrow cache goes only when marked"


def test_a_live_process_holding_an_arrow_cache_or_a_download_lock_keeps_it(datasets_cache, tmp_path):
    cache, csvs, env = datasets_cache
    (lock,) = (cache / "downloads").glob("*.lock")
    arrow_holder = _held_by(HOLD_ARROW, str(csvs[0]), env)
    lock_holder = _held_by(HOLD_LOCK, str(lock), env)
    try:
        folders = scan_hf_folders(tmp_path / "no-xet", cache)
        arrow = _parts(folders, PartKind.ARROW)
        used = [p for p in arrow if arrow_holder.pid in p.users]
        free = [p for p in arrow if not p.users]
        assert len(used) == 1 and len(free) == 1, [(p.label, p.users) for p in arrow]
        (downloads,) = _parts(folders, PartKind.DOWNLOADS)
        assert lock_holder.pid in downloads.users and not downloads.offered
        marks = frozenset(p.key for p in arrow)
        plan = plan_folder_cleanup(folders, marks)
        refused = [i for i in plan.items if i.refused]
        assert [i.paths for i in refused] == [(used[0].path,)] and f"PID {arrow_holder.pid}" in refused[0].refused
        outcome = execute_folder_cleanup(plan, marks, tmp_path / "no-xet", cache)
        assert not outcome.errors, outcome.errors
        assert used[0].path.is_dir() and not free[0].path.exists()
        assert lock.exists() and lock.with_suffix("").exists(), "the download whose lock is held stays"
        assert not any((cache / "downloads" / "extracted").iterdir()), "the extracted archive and its lock went"
    finally:
        for proc in (arrow_holder, lock_holder):
            proc.kill()
            proc.wait()
    # The held lock's download goes once nobody holds it.
    folders = scan_hf_folders(tmp_path / "no-xet", cache)
    (downloads,) = _parts(folders, PartKind.DOWNLOADS)
    assert set(downloads.offered) == {lock, lock.with_suffix(""), lock.with_suffix(".json")}


def test_a_plan_that_no_longer_holds_is_shown_again(datasets_cache, tmp_path):
    cache, csvs, env = datasets_cache
    folders = scan_hf_folders(tmp_path / "no-xet", cache)
    marks = frozenset(p.key for p in _parts(folders, PartKind.ARROW))
    plan = plan_folder_cleanup(folders, marks)
    holder = _held_by(HOLD_ARROW, str(csvs[1]), env)
    try:
        with pytest.raises(FolderPlanChanged) as changed:
            execute_folder_cleanup(plan, marks, tmp_path / "no-xet", cache)
        assert any(i.refused for i in changed.value.plan.items)
        assert all(p.path.exists() for p in _parts(folders, PartKind.ARROW)), "nothing went"
    finally:
        holder.kill()
        holder.wait()


def test_where_the_folders_are_follows_huggingface_hub_and_datasets():
    assert default_folders({"HF_HOME": "/h"}) == (Path("/h/xet"), Path("/h/datasets"))
    assert default_folders({"HF_HOME": "/h", "HF_XET_CACHE": "/x", "HF_DATASETS_CACHE": "/d"}) == (
        Path("/x"),
        Path("/d"),
    )
    assert datasets_cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/huggingface/datasets")
    import datasets.config

    assert datasets_cache_dir(dict(os.environ)) == Path(datasets.config.HF_DATASETS_CACHE)


def test_a_build_in_progress_keeps_its_arrow_cache_and_the_downloads(datasets_cache, tmp_path):
    """While `datasets` holds a builder lock it reads downloads one after another, none of them open in
    between: none of them is offered, and a marked Arrow cache under that lock is refused."""
    cache, _, env = datasets_cache
    arrow = _parts(scan_hf_folders(tmp_path / "no-xet", cache), PartKind.ARROW)[0]
    builder = arrow.path.with_name(arrow.path.name + "_builder.lock")
    assert builder.exists(), "datasets keeps a builder lock beside each Arrow cache"
    holder = _held_by(HOLD_LOCK, str(builder), env)
    try:
        folders = scan_hf_folders(tmp_path / "no-xet", cache)
        (downloads,) = _parts(folders, PartKind.DOWNLOADS)
        assert not downloads.offered and f"being built (PID {holder.pid})" in downloads.kept
        plan = plan_folder_cleanup(folders, frozenset({arrow.key}))
        (item,) = [i for i in plan.items if i.paths == (arrow.path,)]
        assert f"PID {holder.pid}" in item.refused
    finally:
        holder.kill()
        holder.wait()


def test_what_is_not_hf_xet_s_or_datasets_own_is_counted_but_never_offered(tmp_path):
    xet, ds = tmp_path / "xet", tmp_path / "datasets"
    (xet / "logs").mkdir(parents=True)
    (xet / "logs" / "notes.txt").write_text("mine")
    (xet / "backup" / "staging").mkdir(parents=True)
    (xet / "backup" / "staging" / "keep.bin").write_bytes(b"k" * 100)
    ds.mkdir()
    for name in ("poetry.lock", "README.txt", "_csv_default_0.0.0_abc.lock"):
        (ds / name).write_text("x")
    _age(tmp_path, TWO_DAYS)
    folders = scan_hf_folders(xet, ds)
    assert len({p.key for p in folders.parts}) == len(folders.parts), "every row has a key of its own"
    offered = {path for p in folders.parts for path in p.offered}
    assert offered == {ds / "_csv_default_0.0.0_abc.lock"}, offered
    (other,) = [p for p in folders.parts if p.area is Area.DATASETS and p.kind is PartKind.OTHER]
    assert other.files == 2, "poetry.lock and README.txt are someone else's"
    (logs,) = _parts(folders, PartKind.LOGS)
    assert "1 not hf_xet's" in logs.kept


def test_a_log_s_time_is_read_with_its_offset():
    """hf_xet names its log by local time with the offset: a live writer west of UTC is still its writer,
    and a pid given to a newer process since is not."""
    from tui.probes.hf_folders import _log_writer

    me = os.getpid()
    started = psutil.Process(me).create_time()
    west = time.strftime("%Y%m%dT%H%M%S000-0700", time.gmtime(started + 60 - 7 * 3600))
    assert _log_writer(f"xet_{west}_{me}.log") == me
    before = time.strftime("%Y%m%dT%H%M%S000+0200", time.gmtime(started - 3600 + 2 * 3600))
    assert _log_writer(f"xet_{before}_{me}.log") is None, "that log is older than the process with its pid"
    assert _log_writer(f"xet_{west}_{10**30}.log") is None
