"""Shared fixtures: a devhub on loopback and caches built from it by real huggingface_hub downloads."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tui.devhub import demo_cache as demo_cache_builder
from tui.devhub.faults import Fault
from tui.devhub.server import DevHub

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
# hf_xet and datasets (in this process and every child) keep their logs and caches away from the user's own.
_XET_CACHE = tempfile.mkdtemp(prefix="hftop-tests-xet-")
atexit.register(shutil.rmtree, _XET_CACHE, ignore_errors=True)
os.environ.setdefault("HF_XET_CACHE", _XET_CACHE)
os.environ.setdefault("HF_DATASETS_CACHE", os.path.join(_XET_CACHE, "datasets"))
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture
def plain_http(monkeypatch):
    """huggingface_hub in this process downloads over plain HTTP, as under `HF_HUB_DISABLE_XET=1`."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)


@pytest.fixture(scope="session")
def devhub():
    with DevHub() as hub:
        # Every Xet file's xorbs, made once for the session's hubs: no test's first HEAD waits for them.
        hub.prepare_xet(wait=True)
        yield hub


@pytest.fixture
def fresh_devhub(devhub):
    """A devhub of the test's own, for tests that set faults (it shares the session's xorbs)."""
    with DevHub() as hub:
        yield hub


@pytest.fixture(scope="session")
def demo_cache_template(devhub, tmp_path_factory) -> Path:
    """The demo cache, built once: two revisions of a model (one detached), a dataset, a space,
    an orphaned partial file from a kill -9'd downloader, and a corrupted repo folder."""
    cache = tmp_path_factory.mktemp("template") / "hub"
    demo_cache_builder.populate(cache, devhub.endpoint)
    return cache


@pytest.fixture
def demo_cache(demo_cache_template, tmp_path) -> Path:
    """A private copy of the demo cache that the test may change."""
    cache = tmp_path / "hub"
    shutil.copytree(demo_cache_template, cache, symlinks=True)
    return cache


# snapshot_download, as a training script's from_pretrained would call it; it leaves trees/<commit>.json.
OUTSIDE_DOWNLOADER = (
    "import sys; from huggingface_hub import snapshot_download; "
    "snapshot_download(sys.argv[1], cache_dir=sys.argv[2], endpoint=sys.argv[3], max_workers=1)"
)


@pytest.fixture
def outside_downloader(fresh_devhub, tmp_path):
    """Another program downloading hftop-demo/qwen-small, held by the devhub at 10 MiB; yields (process, cache)."""
    fresh_devhub.set_fault("hftop-demo/qwen-small/model.safetensors", Fault(stall_after=10 * 1024 * 1024))
    cache = tmp_path / "hub"
    proc = subprocess.Popen(
        [sys.executable, "-c", OUTSIDE_DOWNLOADER, "hftop-demo/qwen-small", str(cache), fresh_devhub.endpoint],
        env={**os.environ, "HF_HUB_DOWNLOAD_TIMEOUT": "600", "HF_HUB_DISABLE_XET": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc, cache
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def live_demo(tmp_path, monkeypatch):
    """`hftop --demo`'s settings: its hub, its cache filled in `tmp_path`, its four live downloads and
    its 20 s stall threshold. The working folder is `tmp_path` (the palette's screenshot writes there)."""
    from tui.demo import start_demo
    from tui.settings import DEMO_STALL_AFTER, Settings

    monkeypatch.chdir(tmp_path)
    demo = start_demo(tmp_path / "hub")
    try:
        yield Settings(
            cache_dir=demo.cache_dir,
            endpoint=demo.endpoint,
            refresh=0.5,
            demo=True,
            stall_after=DEMO_STALL_AFTER,
            start_downloads=demo.downloads,
        )
    finally:
        demo.close()


NOBODY = 65534


class Unprivileged:
    """A copy of the demo cache in a folder anyone may enter, and a way to run Python there as a user who
    owns nothing (root drops to nobody with setpriv; anyone else runs as themselves)."""

    def __init__(self, root: Path, cache: Path) -> None:
        self.root, self.cache = root, cache
        self.dropped = os.geteuid() == 0

    def give(self, path: Path, recursive: bool = True) -> None:
        """Make `path` (and what is in it) the unprivileged user's."""
        if not self.dropped:
            return
        os.lchown(path, NOBODY, NOBODY)
        if recursive:
            for top, dirs, files in os.walk(path):
                for name in dirs + files:
                    os.lchown(os.path.join(top, name), NOBODY, NOBODY)

    def run(self, code: str, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-c", code, *args]
        if self.dropped:
            argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[1])


@pytest.fixture
def unprivileged(demo_cache_template):
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop to an unprivileged user")
    root = Path(tempfile.mkdtemp(prefix="hftop-unprivileged-"))
    os.chmod(root, 0o755)
    try:
        cache = root / "hub"
        shutil.copytree(demo_cache_template, cache, symlinks=True)
        user = Unprivileged(root, cache)
        probe = user.run("import tui.probes.cache_scan")
        if probe.returncode != 0:
            pytest.skip(f"the project cannot be imported as an unprivileged user here: {probe.stderr[-300:]}")
        yield user
    finally:
        for top, _dirs, _ in os.walk(root):
            os.chmod(top, 0o755)
        shutil.rmtree(root, ignore_errors=True)
