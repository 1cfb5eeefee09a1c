"""Prune on caches built by real downloads: what nothing uses goes; a live download's partial file
and lock stay, and that download completes afterwards with the right content."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time

from tui.actions.cleanup import execute_prune
from tui.devhub.faults import Fault
from tui.probes.cache_scan import scan_cache
from tui.probes.partials import find_partials
from tui.probes.prune import plan_prune

MiB = 1024 * 1024
LATER = 3600.0  # as if an hour had passed: the demo's orphan was written moments ago


def test_prune_takes_detached_revisions_orphans_and_stale_locks(demo_cache):
    info = scan_cache(demo_cache).info
    plan = plan_prune(info, demo_cache, now=time.time() + LATER)
    detached = {m.revision for m in plan.detached}
    assert detached == {r.commit_hash for repo in info.repos for r in repo.revisions if not r.refs} != set()
    [(orphan, size)] = plan.orphans
    assert orphan.name.endswith(".incomplete") and size > 0
    assert plan.stale_locks and all(p.suffix == ".lock" for p in plan.stale_locks)
    assert plan.frees == plan.revisions.frees + size

    outcome = execute_prune(plan, scan_cache(demo_cache).info, demo_cache)
    # What the filesystem freed: the plan's file sizes, rounded up to whole blocks.
    assert outcome.errors == () and plan.frees <= outcome.freed <= plan.frees + 64 * 1024
    after = scan_cache(demo_cache).info
    assert all(r.refs for repo in after.repos for r in repo.revisions), "no detached revision left"
    assert not orphan.exists() and not any(p.exists() for p in plan.stale_locks)
    assert len(after.warnings) == len(info.warnings)


def test_a_partial_file_written_a_moment_ago_is_not_an_orphan_yet(demo_cache):
    plan = plan_prune(scan_cache(demo_cache).info, demo_cache, now=time.time())
    assert all(time.time() - p.stat().st_mtime >= 60 for p, _ in plan.orphans)


DOWNLOADER = (
    "import sys; from huggingface_hub import hf_hub_download; "
    "print(hf_hub_download('hftop-demo/qwen-small', 'model.safetensors', cache_dir=sys.argv[1]))"
)


def test_a_stalled_download_survives_prune_and_completes_right(fresh_devhub, tmp_path):
    fresh_devhub.set_fault("hftop-demo/qwen-small/model.safetensors", Fault(stall_after=10 * MiB))
    cache = tmp_path / "hub"
    # Over plain HTTP with a 5 s read timeout: huggingface_hub retries from where it was, so clearing the
    # fault lets it finish.
    env = {
        **os.environ,
        "HF_ENDPOINT": fresh_devhub.endpoint,
        "HF_HUB_DOWNLOAD_TIMEOUT": "5",
        "HF_HUB_DISABLE_XET": "1",
    }
    proc = subprocess.Popen([sys.executable, "-c", DOWNLOADER, str(cache)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not any(p.real_bytes >= 10 * MiB for p in find_partials(cache)):
            assert time.monotonic() < deadline, "the download did not start"
            time.sleep(0.1)
        [partial] = find_partials(cache)
        info = scan_cache(cache).info
        plan = plan_prune(info, cache, now=time.time() + LATER)
        assert plan.orphans == () and all(p.stem != partial.etag for p in plan.stale_locks)
        execute_prune(plan, info, cache)
        assert partial.path.exists()

        fresh_devhub.clear_faults()
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0
    blob = os.path.realpath(out.strip())
    with open(blob, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == partial.etag == os.path.basename(blob)


def _xet_download(hub, cache, repo_id: str) -> str:
    """A real Xet download (hf_xet, the shared blob store), in a process of its own."""
    code = (
        "import sys; from huggingface_hub import hf_hub_download; "
        "print(hf_hub_download(sys.argv[1], 'model.safetensors', cache_dir=sys.argv[2], endpoint=sys.argv[3]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_XET"}
    done = subprocess.run(
        [sys.executable, "-c", code, repo_id, str(cache), hub.endpoint], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_prune_sweeps_shared_blobs_no_repo_links_to_and_keeps_one_linked_again(devhub, tmp_path):
    from huggingface_hub.utils._shared_blobs import unreferenced_shared_blobs

    cache = tmp_path / "hub"
    _xet_download(devhub, cache, "hftop-demo/whisper-small")
    _xet_download(devhub, cache, "hftop-demo/gpt-micro")
    whisper = cache / "models--hftop-demo--whisper-small"
    blob = next((whisper / "blobs").iterdir())
    assert blob.is_symlink(), "a Xet download lands in the shared blob store"
    store_blob = blob.resolve()
    # `rm -rf` of a repo folder, as people free space by hand: its shared blob stays behind.
    shutil.rmtree(whisper)
    plan = plan_prune(scan_cache(cache).info, cache, now=time.time())
    assert dict(plan.shared_blobs) == unreferenced_shared_blobs(cache) == {store_blob: 30_000_000}
    assert plan.frees >= 30_000_000
    kept_blob = next((cache / "models--hftop-demo--gpt-micro" / "blobs").glob("*")).resolve()

    outcome = execute_prune(plan, scan_cache(cache).info, cache)

    assert outcome.errors == () and outcome.freed >= 30_000_000
    assert not store_blob.exists() and not store_blob.with_name(store_blob.name + ".refs").exists()
    assert not store_blob.with_name(store_blob.name + ".lock").exists()
    assert kept_blob.exists(), "a blob another repo links to stays"
    assert plan_prune(scan_cache(cache).info, cache, now=time.time()).shared_blobs == ()

    # Linked again between the review and the prune: huggingface_hub's sweep, under the blob's lock, keeps it.
    shutil.rmtree(cache / "models--hftop-demo--gpt-micro")
    plan = plan_prune(scan_cache(cache).info, cache, now=time.time())
    assert dict(plan.shared_blobs) == {kept_blob: 3_000_000}
    _xet_download(devhub, cache, "hftop-demo/gpt-micro")  # links the stored blob again, without fetching it
    outcome = execute_prune(plan, scan_cache(cache).info, cache)
    assert kept_blob.exists() and outcome.freed == 0
    assert any("a repo links to it again; kept" in e for e in outcome.errors)


def test_prune_removes_what_the_shared_store_left_beside_gone_blobs(devhub, tmp_path):
    cache = tmp_path / "hub"
    _xet_download(devhub, cache, "hftop-demo/gpt-micro")
    store_blob = next((cache / "models--hftop-demo--gpt-micro" / "blobs").iterdir()).resolve()
    filler = "1" if store_blob.name[2] == "0" else "0"
    gone = store_blob.parent / (store_blob.name[:2] + filler * 62)  # in the same prefix folder, a blob not there
    leftovers = [gone.with_name(gone.name + ".refs"), gone.with_name(gone.name + ".lock")]
    for path in leftovers:
        path.write_text("models--x--y/blobs/abc\n" if path.suffix == ".refs" else "")
    plan = plan_prune(scan_cache(cache).info, cache, now=time.time())
    assert set(plan.store_leftovers) == set(leftovers) and plan.shared_blobs == ()
    outcome = execute_prune(plan, scan_cache(cache).info, cache)
    assert outcome.errors == () and not any(p.exists() for p in leftovers)
    assert store_blob.exists() and store_blob.with_name(store_blob.name + ".refs").exists(), "a live blob's files stay"
