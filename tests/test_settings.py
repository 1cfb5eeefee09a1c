import os
import re
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


@pytest.mark.parametrize("text", ["0", "-1", "0.1", "nan", "inf", "-inf", "1e308", "3601", "fast", ""])
def test_bad_refresh(text):
    with pytest.raises(ValueError, match="--refresh"):
        parse_refresh(text)


@pytest.mark.parametrize(
    "parse, text, message",
    [
        pytest.param("parse_refresh", "1e308", "--refresh must be between 0.2 and 3600 seconds", id="refresh-huge"),
        pytest.param(
            "parse_refresh", "nan", "--refresh must be between 0.2 and 3600 seconds, got nan", id="refresh-nan"
        ),
        pytest.param(
            "parse_stall_after",
            "1e308",
            "--stall-after must be a positive number of minutes, at most 10080",
            id="stall-huge",
        ),
        pytest.param("parse_stall_after", "10081", "at most 10080 (a week)", id="stall-over-a-week"),
        pytest.param("parse_stall_after", "nan", "--stall-after must be a positive", id="stall-nan"),
        pytest.param("parse_stall_after", "-inf", "--stall-after must be a positive", id="stall-minus-inf"),
        pytest.param("parse_watch", "-1", "--watch must be between 0 and 86400 seconds", id="watch-negative"),
        pytest.param("parse_watch", "nan", "--watch must be between 0 and 86400", id="watch-nan"),
        pytest.param("parse_watch", "inf", "--watch must be between 0 and 86400", id="watch-inf"),
        pytest.param("parse_watch", "86401", "--watch must be between 0 and 86400", id="watch-over-a-day"),
        pytest.param("parse_watch", "soon", "--watch takes a number of seconds", id="watch-text"),
    ],
)
def test_flags_out_of_range(parse, text, message):
    import tui.settings

    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(tui.settings, parse)(text)


def test_flags_at_their_bounds():
    from tui.settings import parse_stall_after, parse_watch

    assert (parse_refresh("3600"), parse_stall_after("10080"), parse_watch("0"), parse_watch("86400")) == (
        3600.0,
        7 * 24 * 3600.0,
        0.0,
        86400.0,
    )


def test_config_path(tmp_path):
    from tui.settings import default_config_path

    assert default_config_path({"HFTOP_CONFIG": "/etc/h.toml"}) == Path("/etc/h.toml")
    assert default_config_path({"XDG_CONFIG_HOME": "/x"}) == Path("/x/hftop/config.toml")
    assert default_config_path({}) == Path.home() / ".config" / "hftop" / "config.toml"


def test_config_with_a_byte_order_mark(tmp_path):
    from tui.settings import load_config, save_endpoint

    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbfrefresh_seconds = 2\n")
    assert load_config(path).refresh == 2.0
    save_endpoint(path, "https://hf-mirror.com")
    assert path.read_bytes().startswith(b'endpoint = "https://hf-mirror.com"\n'), "the mark is dropped, not moved"
    assert load_config(path).refresh == 2.0


@pytest.mark.parametrize(
    "make, message",
    [
        pytest.param(lambda p: p.mkdir(), "is a folder, not a regular file", id="folder"),
        pytest.param(os.mkfifo, "is a FIFO, not a regular file", id="fifo"),
        pytest.param(lambda p: p.write_bytes(b"# x\n" * 300_000), "is larger than 1 MiB", id="too-large"),
        pytest.param(
            lambda p: p.write_bytes(b"refresh_seconds = 2 # \xff\n"),
            "is not UTF-8 text (byte 0xff at offset 22)",
            id="not-utf8",
        ),
        pytest.param(lambda p: p.symlink_to("/dev/zero"), "is a character device, not a regular file", id="dev-zero"),
    ],
)
def test_config_that_is_no_config_file(tmp_path, make, message):
    from tui.settings import ConfigError, load_config

    path = tmp_path / "config.toml"
    make(path)
    with pytest.raises(ConfigError, match=re.escape(f"config file {path} {message}")):
        load_config(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_config_without_read_permission(tmp_path):
    from tui.settings import ConfigError, load_config

    path = tmp_path / "config.toml"
    path.write_text("refresh_seconds = 2\n")
    path.chmod(0)
    with pytest.raises(ConfigError, match="cannot read config file .*: Permission denied"):
        load_config(path)


@pytest.mark.parametrize(
    "env, configured, origin",
    [
        pytest.param({"HF_HUB_CACHE": "/c", "HF_HOME": "/h"}, Path("/x"), "HF_HUB_CACHE", id="hub-cache"),
        pytest.param({"HUGGINGFACE_HUB_CACHE": "/c"}, None, "HUGGINGFACE_HUB_CACHE", id="legacy"),
        pytest.param({"HF_HOME": "/h"}, Path("/x"), "HF_HOME", id="hf-home"),
        pytest.param({"XDG_CACHE_HOME": "/x"}, Path("/conf"), "cache_dir", id="config"),
        pytest.param({"XDG_CACHE_HOME": "/x"}, None, "XDG_CACHE_HOME", id="xdg"),
        pytest.param({}, None, "the default cache folder", id="default"),
    ],
)
def test_the_cache_dir_says_where_it_came_from(env, configured, origin):
    from tui.settings import cache_dir_and_origin

    assert cache_dir_and_origin(env, configured) == (default_cache_dir(env, configured), origin)


def test_cache_dir_problems(tmp_path):
    from tui.settings import cache_dir_problem

    (tmp_path / "file").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    assert cache_dir_problem(tmp_path) is None
    assert cache_dir_problem(tmp_path / "not-yet") is None
    assert cache_dir_problem(tmp_path / "file") == f"{tmp_path / 'file'} is a file, not a folder"
    assert cache_dir_problem(tmp_path / "fifo") == f"{tmp_path / 'fifo'} is not a folder (a FIFO)"
    assert (
        cache_dir_problem(tmp_path / "file" / "hub")
        == f"{tmp_path / 'file' / 'hub'} cannot be a folder: {tmp_path / 'file'} is a file"
    )
    assert cache_dir_problem(tmp_path / ("a" * 5000)).endswith(": File name too long")


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
        pytest.param("refresh_seconds = 0.01", "refresh_seconds must be between 0.2 and 3600", id="too-fast"),
        pytest.param("refresh_seconds = 1e308", "refresh_seconds must be between 0.2 and 3600", id="refresh-huge"),
        pytest.param("refresh_seconds = inf", "refresh_seconds must be between 0.2 and 3600", id="refresh-inf"),
        pytest.param("refresh_seconds = nan", "refresh_seconds must be between 0.2 and 3600", id="refresh-nan"),
        pytest.param("refresh_seconds = " + "9" * 400, "refresh_seconds must be between", id="refresh-beyond-float"),
        pytest.param("refresh_seconds = " + "9" * 5000, "holds a number too long to read", id="refresh-5000-digits"),
        pytest.param("stall_after_minutes = 1e308", "stall_after_minutes must be a positive", id="stall-huge"),
        pytest.param("stall_after_minutes = -inf", "stall_after_minutes must be a positive", id="stall-minus-inf"),
        pytest.param("cache_dir = 3", "cache_dir takes a folder path", id="cache-dir-type"),
        pytest.param('cache_dir = "a\\u0000b"', "cache_dir takes a folder path", id="cache-dir-nul"),
        pytest.param("a = " + "[" * 100_000 + "]" * 100_000, "nests arrays or tables too deeply", id="deep"),
        pytest.param(
            'endpoint = "https://hub.example/\\u0000x"',
            "endpoint: .* holds a space or a control character",
            id="endpoint-nul",
        ),
        pytest.param(
            'endpoint = "https://u:pw@hub.example"', "put the token in HF_TOKEN, not the URL", id="endpoint-password"
        ),
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
