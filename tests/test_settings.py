from pathlib import Path

import pytest

from tui.settings import default_cache_dir, default_endpoint, parse_refresh


@pytest.mark.parametrize(
    "env, expected",
    [
        pytest.param({"HF_HUB_CACHE": "/data/hub", "HF_HOME": "/h"}, Path("/data/hub"), id="hub-cache-wins"),
        pytest.param({"HF_HOME": "/h"}, Path("/h/hub"), id="hf-home"),
        pytest.param({"XDG_CACHE_HOME": "/x"}, Path("/x/huggingface/hub"), id="xdg"),
        pytest.param({"HUGGINGFACE_HUB_CACHE": "/old"}, Path("/old"), id="legacy-name"),
        pytest.param({}, Path.home() / ".cache" / "huggingface" / "hub", id="default"),
    ],
)
def test_default_cache_dir(env, expected):
    assert default_cache_dir(env) == expected


def test_default_cache_dir_matches_huggingface_hub(tmp_path):
    # huggingface_hub reads the variables at import: ask a fresh interpreter.
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HOME": str(tmp_path / "home")}
    env.pop("HF_HUB_CACHE", None)
    env.pop("HUGGINGFACE_HUB_CACHE", None)
    out = subprocess.run(
        [sys.executable, "-c", "from huggingface_hub import constants; print(constants.HF_HUB_CACHE)"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert Path(out) == default_cache_dir(env)


@pytest.mark.parametrize(
    "env, expected",
    [
        pytest.param({}, "https://huggingface.co", id="default"),
        pytest.param({"HF_ENDPOINT": "https://hf-mirror.com/"}, "https://hf-mirror.com", id="mirror-trailing-slash"),
    ],
)
def test_default_endpoint(env, expected):
    assert default_endpoint(env) == expected


@pytest.mark.parametrize(
    "text, expected",
    [pytest.param("1", 1.0, id="int"), pytest.param("0.5", 0.5, id="float"), pytest.param("0.2", 0.2, id="minimum")],
)
def test_refresh(text, expected):
    assert parse_refresh(text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "0.1", "nan", "inf", "fast", ""])
def test_bad_refresh(text):
    with pytest.raises(ValueError, match="--refresh"):
        parse_refresh(text)
