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
        env=env,
        capture_output=True,
        text=True,
        check=True,
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


def test_config_path(tmp_path):
    from tui.settings import default_config_path

    assert default_config_path({"HFTOP_CONFIG": "/etc/h.toml"}) == Path("/etc/h.toml")
    assert default_config_path({"XDG_CONFIG_HOME": "/x"}) == Path("/x/hftop/config.toml")
    assert default_config_path({}) == Path.home() / ".config" / "hftop" / "config.toml"


def test_config_values(tmp_path):
    from tui.settings import load_config

    path = tmp_path / "config.toml"
    path.write_text('stall_after_minutes = 2.5\nrefresh_seconds = 2\ncache_dir = "~/models"\n')
    config = load_config(path)
    assert (config.stall_after, config.refresh, config.cache_dir) == (150.0, 2.0, Path.home() / "models")
    assert default_cache_dir({}, configured=config.cache_dir) == Path.home() / "models"
    assert default_cache_dir({"HF_HOME": "/h"}, configured=config.cache_dir) == Path("/h/hub")


def test_missing_config_is_empty_unless_named(tmp_path):
    from tui.settings import ConfigError, load_config

    assert load_config(tmp_path / "none.toml").stall_after is None
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "none.toml", required=True)


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param("stall_after_minutes = ", "not valid TOML", id="syntax"),
        pytest.param("stall_minutes = 3", "unknown key 'stall_minutes'", id="unknown-key"),
        pytest.param('stall_after_minutes = "5"', "stall_after_minutes takes a number", id="string"),
        pytest.param("stall_after_minutes = 0", "stall_after_minutes must be a positive", id="zero"),
        pytest.param("refresh_seconds = 0.01", "refresh_seconds must be at least 0.2", id="too-fast"),
        pytest.param("cache_dir = 3", "cache_dir takes a folder path", id="cache-dir-type"),
    ],
)
def test_bad_config(tmp_path, text, message):
    from tui.settings import ConfigError, load_config

    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_bad_config_is_one_line_at_start(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "config.toml"
    path.write_text("stall_after_minutes = -1\n")
    done = subprocess.run(
        [sys.executable, "-m", "tui", "doctor", "--config", str(path), "--cache-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("hftop: config file") and "Traceback" not in done.stderr


def test_config_sets_doctor_threshold(tmp_path):
    import json
    import subprocess
    import sys

    path = tmp_path / "config.toml"
    path.write_text("stall_after_minutes = 7\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui",
            "doctor",
            "--json",
            "--watch",
            "0",
            "--config",
            str(path),
            "--cache-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(done.stdout)["stall_after_seconds"] == 420


def test_read_only_in_the_config(tmp_path):
    from tui.settings import ConfigError, load_config

    path = tmp_path / "config.toml"
    path.write_text("read_only = true\n")
    assert load_config(path).read_only is True
    path.write_text('read_only = "yes"\n')
    with pytest.raises(ConfigError, match="read_only takes true or false"):
        load_config(path)


def test_mirrors_and_endpoint_in_the_config(tmp_path):
    from tui.settings import load_config, save_endpoint

    path = tmp_path / "config.toml"
    path.write_text(
        '# my mirrors\nstall_after_minutes = 3\n\n[[mirrors]]\nname = "lab"\nurl = "http://hub.lab:8080/"\n'
        "trusted = true\nallow_http = true\n"
    )
    config = load_config(path)
    assert [(m.name, m.url, m.trusted) for m in config.mirrors] == [("lab", "http://hub.lab:8080", True)]
    save_endpoint(path, "http://hub.lab:8080")
    assert load_config(path).endpoint == "http://hub.lab:8080"
    assert path.read_text().startswith('endpoint = "http://hub.lab:8080"\n# my mirrors\n'), "comments kept"
    save_endpoint(path, "https://hf-mirror.com")
    assert load_config(path).endpoint == "https://hf-mirror.com" and path.read_text().count("endpoint =") == 1


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param('[[mirrors]]\nname = "x"\nurl = "http://far.away"\n', "plain http to another machine", id="http"),
        pytest.param('[[mirrors]]\nurl = "https://a"\n', "needs a name and a url", id="no-name"),
        pytest.param('[[mirrors]]\nname = "x"\nurl = "https://a"\ntrusted = "yes"\n', "true or false", id="trusted"),
        pytest.param('endpoint = "ftp://x"\n', "endpoint: 'ftp://x' is not an http", id="endpoint"),
    ],
)
def test_bad_mirrors(tmp_path, text, message):
    from tui.settings import ConfigError, load_config

    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_a_plain_http_endpoint_elsewhere_is_refused_at_start(tmp_path):
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "tui", "--endpoint", "http://mirror.far.away", "--cache-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HFTOP_CONFIG": str(tmp_path / "none.toml")},
    )
    assert done.returncode == 2 and "--endpoint" in done.stderr and "plain http" in done.stderr
