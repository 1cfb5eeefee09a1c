"""Shared fixtures: a devhub on loopback and caches built from it by real huggingface_hub downloads."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tui.devhub import demo_cache as demo_cache_builder
from tui.devhub.server import DevHub

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture(scope="session")
def devhub():
    with DevHub() as hub:
        yield hub


@pytest.fixture
def fresh_devhub():
    """A devhub of the test's own, for tests that set faults."""
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
