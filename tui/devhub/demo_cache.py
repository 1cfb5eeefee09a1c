"""Fill a cache the way people's caches look, by real huggingface_hub downloads from a devhub.

What it makes: a model with two revisions (one detached, sharing a blob with the other), several
models, a dataset, a space, a partial file left by a downloader killed with SIGKILL, and a repo
folder huggingface_hub reports as corrupted. Used by `hftop --demo` and by the tests' fixtures.

`python -m tui.devhub.demo_cache --endpoint URL --cache-dir DIR` runs it against a running devhub.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tui.probes.owner import when_owner_dies

DETACHED_REPO = "hftop-demo/tiny-bert"
ORPHAN_REPO = "hftop-demo/vit-huge"
ORPHAN_FILE = "model.safetensors"
ORPHAN_BYTES = 20_000_000
CORRUPTED_FOLDER = "models--hftop-demo--broken-upload"


def _revision_of(endpoint: str, repo_id: str, revision: str) -> str:
    with urllib.request.urlopen(f"{endpoint}/api/models/{repo_id}/revision/{revision}", timeout=10) as r:
        sha: str = json.load(r)["sha"]
    return sha


def _set_fault(endpoint: str, pattern: str, fault: dict[str, Any] | None) -> None:
    if fault is None:
        query = urllib.parse.urlencode({"pattern": pattern})
        request = urllib.request.Request(f"{endpoint}/_devhub/faults?{query}", method="DELETE")
    else:
        body = json.dumps({"pattern": pattern, "fault": fault}).encode()
        request = urllib.request.Request(
            f"{endpoint}/_devhub/faults", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
    urllib.request.urlopen(request, timeout=10).close()


def download_complete_repos(cache_dir: Path, endpoint: str) -> None:
    """Whole snapshots, and an older revision fetched by its hash so that no ref points at it."""
    from huggingface_hub import snapshot_download

    def get(repo_id: str, repo_type: str = "model", revision: str | None = None) -> None:
        snapshot_download(repo_id, repo_type=repo_type, revision=revision, cache_dir=cache_dir, endpoint=endpoint)

    get(DETACHED_REPO)
    get(DETACHED_REPO, revision=_revision_of(endpoint, DETACHED_REPO, "v1.0"))
    get("hftop-demo/llama-mini")
    get("hftop-demo/whisper-small")
    get("hftop-demo/squad-mini", repo_type="dataset")
    get("hftop-demo/chat-space", repo_type="space")


def leave_orphan_partial(cache_dir: Path, endpoint: str, timeout: float = 60.0) -> Path:
    """Start a real downloader, let it write ORPHAN_BYTES, then kill -9 it: its partial file stays behind."""
    from huggingface_hub import hf_hub_download

    hf_hub_download(ORPHAN_REPO, "config.json", cache_dir=cache_dir, endpoint=endpoint)
    _set_fault(endpoint, f"{ORPHAN_REPO}/{ORPHAN_FILE}", {"stall_after": ORPHAN_BYTES + 1_000_000})
    code = (
        "import sys; from huggingface_hub import hf_hub_download; "
        "hf_hub_download(sys.argv[1], sys.argv[2], cache_dir=sys.argv[3], endpoint=sys.argv[4])"
    )
    # Over plain HTTP, which writes the file as it comes (10 MiB steps); hf_xet would write nothing
    # before its first whole term arrives.
    env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_XET": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, ORPHAN_REPO, ORPHAN_FILE, str(cache_dir), endpoint],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )  # same process group as this one: whoever stops this process's group stops the downloader too
    blobs = Path(cache_dir) / f"models--{ORPHAN_REPO.replace('/', '--')}" / "blobs"
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            partials = list(blobs.glob("*.incomplete")) if blobs.exists() else []
            if partials and partials[0].stat().st_size >= ORPHAN_BYTES:
                return partials[0]
            if proc.poll() is not None:
                raise RuntimeError(f"the downloader exited early with status {proc.returncode}")
            time.sleep(0.05)
        raise TimeoutError("the downloader wrote no partial file in time")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        _set_fault(endpoint, f"{ORPHAN_REPO}/{ORPHAN_FILE}", None)


def add_corrupted_repo(cache_dir: Path) -> Path:
    """A repo folder with blobs but no snapshots, as an interrupted copy or a hand edit leaves it."""
    folder = Path(cache_dir) / CORRUPTED_FOLDER
    (folder / "blobs").mkdir(parents=True, exist_ok=True)
    (folder / "blobs" / ("ab" * 20)).write_bytes(b"x" * 4096)
    return folder


def populate(cache_dir: Path, endpoint: str) -> None:
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    download_complete_repos(cache_dir, endpoint)
    leave_orphan_partial(cache_dir, endpoint)
    add_corrupted_repo(cache_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.devhub.demo_cache", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--cache-dir", required=True, type=Path)
    parser.add_argument("--exit-with", type=int, metavar="PID", help="give up when process PID is gone")
    args = parser.parse_args(argv)
    if args.exit_with:
        # Give up with the downloader it started (same process group) once hftop is gone.
        when_owner_dies(args.exit_with, lambda: os.killpg(os.getpgid(0), signal.SIGKILL))
    populate(args.cache_dir, args.endpoint.rstrip("/"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
