"""Prune on caches built by real downloads: what nothing uses goes; a live download's partial file
and lock stay, and that download completes afterwards with the right content."""

from __future__ import annotations

import hashlib
import os
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
    assert outcome.errors == () and outcome.freed == plan.frees
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
