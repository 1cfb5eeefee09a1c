"""`hftop resume`: real `hf download` processes killed mid-file, resumed from their bytes against the devhub."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui.devhub.faults import Fault
from tui.devhub.server import DevHub

MiB = 1024 * 1024
REPO = "hftop-demo/olmo-resume"
FILE = "model.safetensors"
FOLDER = "models--hftop-demo--olmo-resume"
SIZE = 128 * MiB


def _env(hub: DevHub, cache: Path, xet: bool) -> dict[str, str]:
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": str(cache), "HF_HUB_DOWNLOAD_TIMEOUT": "600"}
    env.pop("HF_HUB_DISABLE_XET", None)
    if not xet:
        env["HF_HUB_DISABLE_XET"] = "1"
    return env


def _partials(cache: Path) -> list[Path]:
    return sorted((cache / FOLDER / "blobs").glob("*.incomplete"))


def _kill_hf_download_at(hub: DevHub, cache: Path, xet: bool, at: int = 90 * MiB) -> Path:
    """`hf download` held by the devhub at `at` bytes, then `kill -9`: the partial file it leaves."""
    hub.set_fault(f"{REPO}/{FILE}", Fault(stall_after=at))
    hf = Path(sys.executable).with_name("hf")
    proc = subprocess.Popen(
        [str(hf), "download", REPO, FILE],
        env=_env(hub, cache, xet),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, last, steady_since = time.monotonic() + 90, -1, time.monotonic()
        while True:
            assert time.monotonic() < deadline, (
                f"the download did not reach {at} bytes: {last} on disk, {hub.bytes_sent(REPO, FILE, 'xet')} sent over Xet"
            )
            sizes = [p.stat().st_size for p in _partials(cache)]
            size = max(sizes, default=-1)
            if size != last:
                last, steady_since = size, time.monotonic()
            # Plain HTTP writes 10 MiB steps up to the stall; hf_xet writes whole terms below it, about 16 MiB
            # each (chunk-aligned, so the first may end just under 16 MiB), and may ask for terms past the
            # stall first: then only the first lands.
            if size >= at or (xet and size > 8 * MiB and time.monotonic() - steady_since > 2.0):
                break
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    hub.clear_faults()
    (partial,) = _partials(cache)
    return partial


def _resume(cache: Path, hub: DevHub, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", "resume", "--cache-dir", str(cache), "--endpoint", hub.endpoint, *args],
        env={k: v for k, v in os.environ.items() if k not in ("HF_ENDPOINT", "HF_HUB_CACHE")},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _cached_by_huggingface_hub(cache: Path, hub: DevHub) -> str:
    """What `hf_hub_download(..., local_files_only=True)` returns, in a process of its own."""
    code = (
        "import sys; from huggingface_hub import hf_hub_download; "
        "print(hf_hub_download(sys.argv[1], sys.argv[2], local_files_only=True))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, REPO, FILE],
        env=_env(hub, cache, xet=True),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def hub():
    with DevHub() as hub:
        hub.prepare_xet(wait=True)
        yield hub


@pytest.fixture(scope="module")
def killed_cache(hub, tmp_path_factory) -> Path:
    """A cache where a plain-HTTP `hf download` was killed at 90 MiB of 128 MiB (copied for each test)."""
    cache = tmp_path_factory.mktemp("killed") / "hub"
    _kill_hf_download_at(hub, cache, xet=False)
    return cache


@pytest.fixture
def cache(killed_cache, tmp_path) -> Path:
    copy = tmp_path / "hub"
    shutil.copytree(killed_cache, copy, symlinks=True)
    return copy


@pytest.mark.parametrize("xet", [False, True], ids=["plain-http", "xet"])
def test_a_killed_hf_download_resumes_from_its_bytes_and_huggingface_hub_finds_it(hub, tmp_path, xet):
    cache = tmp_path / "hub"
    partial = _kill_hf_download_at(hub, cache, xet)
    kept = partial.stat().st_size
    assert (8 * MiB if xet else 16 * MiB) < kept <= 90 * MiB
    before = len(hub.requests())

    done = _resume(cache, hub, "--all")

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert f"resumes at {kept / 1e6:.1f} MB of 134.2 MB" in done.stderr
    ranged = [r for r in hub.requests()[before:] if r.method == "GET" and r.range]
    assert [r.range for r in ranged] == [f"bytes={kept}-"] * len(ranged) and ranged, "one range, from the partial's end"
    assert ranged[-1].status == 206 and not any(r.authorized for r in hub.requests()[before:])
    blob = cache / FOLDER / "blobs" / hub.file(REPO, FILE).sha256
    assert _sha256(blob) == blob.name
    assert _partials(cache) == []
    pointer = _cached_by_huggingface_hub(cache, hub)
    assert Path(pointer).resolve() == blob.resolve()
    if xet:  # where huggingface_hub keeps Xet files: the shared blob store, the repo's blob a link into it
        assert blob.is_symlink() and "/blobs/" in os.readlink(blob)
        assert "shared blob store" in done.stderr


def test_a_server_that_ignores_range_is_said_and_nothing_is_placed(hub, cache):
    (partial,) = _partials(cache)
    size = partial.stat().st_size
    hub.set_fault(f"{REPO}/{FILE}", Fault(ignore_range=True))
    try:
        done = _resume(cache, hub, str(partial))
    finally:
        hub.clear_faults()
    assert done.returncode == 1
    assert "ignored the Range request" in done.stderr and "download the file afresh" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (cache / FOLDER / "blobs" / hub.file(REPO, FILE).sha256).exists()
    assert partial.stat().st_size == size


def test_a_corrupted_partial_fails_its_hash_and_is_never_placed(hub, cache):
    (partial,) = _partials(cache)
    size = partial.stat().st_size
    with open(partial, "r+b") as f:
        f.seek(5 * MiB)
        f.write(b"\x00" * 4096)
    done = _resume(cache, hub, "--all")
    assert done.returncode == 1
    assert "fails its check: its sha256 is" in done.stderr and "Nothing was placed" in done.stderr
    blobs = cache / FOLDER / "blobs"
    assert not (blobs / hub.file(REPO, FILE).sha256).exists()
    assert list((cache / FOLDER / "snapshots").rglob(FILE)) == []
    assert partial.stat().st_size == size, "the partial is left as it was"


def test_a_file_gone_upstream_is_said_and_the_partial_stays(hub, cache):
    (partial,) = _partials(cache)
    size = partial.stat().st_size
    hub.set_fault(f"{REPO}/{FILE}", Fault(gone=True))
    try:
        done = _resume(cache, hub, "--all")
    finally:
        hub.clear_faults()
    assert done.returncode == 1
    assert "gone upstream" in done.stderr and "404" in done.stderr
    assert partial.stat().st_size == size


def test_a_partial_a_live_process_writes_is_refused(hub, tmp_path):
    cache = tmp_path / "hub"
    hub.set_fault(f"{REPO}/{FILE}", Fault(stall_after=20 * MiB))
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("hf")), "download", REPO, FILE],
        env=_env(hub, cache, xet=False),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not any(p.stat().st_size >= 20 * MiB for p in _partials(cache)):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        (partial,) = _partials(cache)
        done = _resume(cache, hub, str(partial))
        assert done.returncode == 1
        assert f"process {proc.pid}" in done.stderr and "is writing it" in done.stderr
        listed = _resume(cache, hub, "--all")
        assert listed.returncode == 0 and "not resumed" in listed.stderr, "--all leaves live downloads alone"
        assert "0 placed and checked, 0 not, 1 left alone" in listed.stderr
        assert proc.poll() is None and partial.exists()
    finally:
        proc.kill()
        proc.wait()
        hub.clear_faults()


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        ((), 2, "resume takes partial files, or --all"),
        (("no/such/file.incomplete",), 2, "no such file"),
        (("--bogus",), 2, "unrecognized arguments"),
        (("--cache-dir", "/no/such/cache", "--all"), 2, "no Hub cache at /no/such/cache"),
    ],
)
def test_bad_input_gets_a_sentence(hub, cache, args, status, message):
    done = _resume(cache, hub, *args)
    assert done.returncode == status
    assert message in done.stderr and "Traceback" not in done.stderr


def test_files_that_are_no_partials_of_the_cache_are_refused(hub, cache, tmp_path):
    outside = tmp_path / "elsewhere.incomplete"
    outside.write_bytes(b"x")
    local = tmp_path / "out" / ".cache" / "huggingface" / "download"
    local.mkdir(parents=True)
    (local / "abc.def.incomplete").write_bytes(b"x")
    inside_local = cache / "local" / ".cache" / "huggingface" / "download"
    inside_local.mkdir(parents=True)
    (inside_local / "abc.def.incomplete").write_bytes(b"x")
    done = _resume(cache, hub, str(outside), str(inside_local / "abc.def.incomplete"), str(cache), "--all")
    assert done.returncode == 2, "bad input: nothing is resumed, not even with --all"
    assert "not inside the cache" in done.stderr
    assert "local_dir download's partial file" in done.stderr
    assert "a folder, not a partial file" in done.stderr
    assert "resumes at" not in done.stderr
    (partial,) = _partials(cache)
    assert partial.exists()
