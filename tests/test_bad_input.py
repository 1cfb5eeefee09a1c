"""Bad input at the edges, given to the real `hftop` command: one clear line and status 2, never a
hang or a traceback. Each run has a timeout, so a hang fails the test instead of stalling the suite."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tui.core.download_plan import DownloadRequest, RequestError
from tui.probes.hub import lookup_blob, plan_download, probe_mirror


def hftop(
    *args: str, env: dict[str, str] | None = None, stdout: int = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "HFTOP_"))}
    environ["HFTOP_CONFIG"] = "/nonexistent/hftop-test.toml"  # never the tester's own config
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=30,
    )


def refused(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """The single line hftop printed, after checking it is one, with status 2 and no traceback."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, (done.returncode, done.stderr)
    assert lines[0].startswith("hftop: ") and all(w in lines[0] for w in words), lines[0]
    return lines[0]


def test_a_fifo_as_config_file_does_not_hang(tmp_path):
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    done = hftop("--cache-dir", str(tmp_path), env={"HFTOP_CONFIG": str(fifo)})
    refused(done, f"config file {fifo} is a FIFO, not a regular file")


def test_dev_zero_as_config_file_does_not_hang():
    refused(hftop("doctor", "--config", "/dev/zero"), "config file /dev/zero is a character device")


def test_a_huge_config_file_is_not_read_whole(tmp_path):
    path = tmp_path / "config.toml"
    with open(path, "wb") as f:
        f.truncate(1 << 30)  # sparse: a gigabyte of zeros that takes no disk
    refused(hftop("doctor", "--config", str(path)), "is larger than 1 MiB")


@pytest.mark.parametrize(
    "args, env, words",
    [
        pytest.param(
            ("--endpoint", "https://hub.example/\x01x"), {}, ("--endpoint:", "control character"), id="flag-control"
        ),
        pytest.param((), {"HF_ENDPOINT": "https://hub.example/a b"}, ("HF_ENDPOINT:", "a space"), id="env-space"),
        pytest.param(("--endpoint", "https://hub.example:99999"), {}, ("Port out of range",), id="port"),
        pytest.param(("--endpoint", "https://[::1"), {}, ("Invalid IPv6 URL",), id="unclosed-ipv6"),
        pytest.param(("--endpoint", ""), {}, ("--endpoint:", "not an http(s) URL"), id="empty"),
        pytest.param(("--endpoint", "https://x/" + "a" * 100_000), {}, ("not a mirror address",), id="very-long"),
        pytest.param((), {"HF_ENDPOINT": "garbage"}, ("HF_ENDPOINT:", "not an http(s) URL"), id="env-garbage"),
        pytest.param((), {"HF_ENDPOINT": "http://10.0.0.5"}, ("HF_ENDPOINT:", "plain http"), id="env-plain-http"),
    ],
)
@pytest.mark.parametrize("command", [(), ("doctor",)], ids=["dashboard", "doctor"])
def test_a_bad_endpoint_is_refused_at_start(tmp_path, command, args, env, words):
    """hftop doctor too: it went on with a bad HF_ENDPOINT and named no dead writer's file."""
    refused(hftop(*command, *args, "--cache-dir", str(tmp_path), env=env), *words)


def test_a_nul_in_the_config_endpoint_is_refused_at_start(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('endpoint = "https://hub.example/\\u0000x"\n')
    line = refused(hftop("--config", str(config), "--cache-dir", str(tmp_path)), "endpoint:", "control character")
    assert "\x00" not in line, "the NUL is shown escaped"


@pytest.mark.parametrize("where", ["--endpoint", "HF_ENDPOINT", "config"])
def test_a_password_in_the_endpoint_is_refused_and_never_shown(tmp_path, where):
    url = "https://user:s3cret@hub.example/"
    config = tmp_path / "config.toml"
    config.write_text(f'endpoint = "{url}"\n' if where == "config" else "")
    args = ["--endpoint", url] if where == "--endpoint" else []
    env = {"HF_ENDPOINT": url} if where == "HF_ENDPOINT" else {}
    done = hftop(*args, "--config", str(config), "--cache-dir", str(tmp_path), env=env)
    line = refused(done, "put the token in HF_TOKEN, not the URL")
    assert "s3cret" not in done.stderr + done.stdout and "hub.example" in line


@pytest.mark.parametrize(
    "args, words",
    [
        pytest.param(("--refresh", "1e308"), ("--refresh must be between 0.2 and 3600",), id="refresh-huge"),
        pytest.param(("--refresh", "inf"), ("--refresh must be between",), id="refresh-inf"),
        pytest.param(("--refresh", "nan"), ("--refresh must be between",), id="refresh-nan"),
        pytest.param(("--stall-after", "1e308"), ("--stall-after must be", "at most 10080"), id="stall-huge"),
        pytest.param(("doctor", "--watch", "-1"), ("--watch must be between 0 and 86400",), id="watch-negative"),
        pytest.param(("doctor", "--watch", "nan"), ("--watch must be between",), id="watch-nan"),
        pytest.param(("doctor", "--watch", "inf"), ("--watch must be between",), id="watch-inf"),
        pytest.param(("doctor", "--watch", "1e308"), ("--watch must be between",), id="watch-huge"),
        pytest.param(
            ("--watch", "3"), ("--json, --watch and --local-dirs go with `hftop doctor`",), id="watch-without-doctor"
        ),
        pytest.param(("doctor", "--cache-dir", ""), ("--cache-dir takes a path",), id="cache-dir-empty"),
        pytest.param(("doctor", "--endpoint", "ftp://x"), ("--endpoint:", "not an http(s) URL"), id="doctor-endpoint"),
        pytest.param(("doctor", "--read-only"), ("doctor changes nothing already",), id="doctor-read-only"),
        pytest.param(
            ("doctor", "--bogus"), ("unrecognized arguments: --bogus", "(hftop doctor --help"), id="doctor-unknown"
        ),
        pytest.param(("--config", ""), ("--config takes a path",), id="config-empty"),
    ],
)
def test_a_flag_out_of_range_is_one_line(tmp_path, args, words):
    refused(hftop(*args), *words)


@pytest.mark.parametrize(
    "text, words",
    [
        pytest.param("refresh_seconds = 1e308\n", ("refresh_seconds must be between 0.2 and 3600",), id="refresh"),
        pytest.param("refresh_seconds = nan\n", ("refresh_seconds must be between",), id="refresh-nan"),
        pytest.param("stall_after_minutes = inf\n", ("stall_after_minutes must be",), id="stall-inf"),
        pytest.param("a = " + "[" * 100_000 + "]" * 100_000, ("nests arrays or tables too deeply",), id="deep"),
    ],
)
def test_a_config_value_out_of_range_is_one_line(tmp_path, text, words):
    config = tmp_path / "config.toml"
    config.write_text(text)
    refused(hftop("--config", str(config), "--cache-dir", str(tmp_path)), *words)


def test_a_config_that_is_a_folder(tmp_path):
    refused(hftop("doctor", "--config", str(tmp_path)), f"config file {tmp_path} is a folder")


@pytest.mark.parametrize(
    "variable, make, words",
    [
        pytest.param("HF_HUB_CACHE", os.mkfifo, ("HF_HUB_CACHE: ", "is not a folder (a FIFO)"), id="fifo"),
        pytest.param(
            "HF_HUB_CACHE", lambda p: p.write_text("x"), ("HF_HUB_CACHE: ", "is a file, not a folder"), id="file"
        ),
        pytest.param("HF_HOME", lambda p: p.write_text("x"), ("HF_HOME: ", "hub cannot be a folder"), id="home-file"),
    ],
)
def test_a_cache_that_is_no_folder_names_where_it_came_from(tmp_path, variable, make, words):
    path = tmp_path / "hub"
    make(path)
    line = refused(hftop("doctor", "--watch", "0", env={variable: str(path)}), *words)
    assert "--cache-dir" not in line, "the user never passed --cache-dir"


def test_the_configs_cache_dir_is_named_as_such(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    config = tmp_path / "config.toml"
    config.write_text(f'cache_dir = "{tmp_path / "fifo"}"\n')
    refused(hftop("doctor", "--config", str(config)), f"config file {config}: cache_dir: ", "is not a folder")


def test_non_utf8_bytes_in_paths_are_no_traceback(tmp_path):
    """A path is bytes on Linux: one that is not UTF-8 is a cache like any other."""
    cache = os.path.join(os.fsencode(tmp_path), b"\xff-hub")
    os.mkdir(cache)
    done = hftop("doctor", "--watch", "0", "--json", env={"HF_HUB_CACHE": os.fsdecode(cache)})
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    config = os.path.join(os.fsencode(tmp_path), b"\xfe.toml")
    Path(os.fsdecode(config)).write_bytes(b"refresh_seconds = 0\n")
    refused(hftop("--config", os.fsdecode(config), "--cache-dir", str(tmp_path)), "refresh_seconds must be")


@pytest.mark.parametrize("json_output", [True, False], ids=["json", "text"])
def test_doctor_into_a_closed_pipe_is_quiet(tmp_path, json_output):
    # The read end is closed before hftop writes: the first write or flush meets EPIPE, every time.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        args = ["doctor", "--watch", "0", "--cache-dir", str(tmp_path)] + (["--json"] if json_output else [])
        done = hftop(*args, stdout=write_end)
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 141, "what a shell shows for a command SIGPIPE ended"


@pytest.mark.parametrize("flags", [["--help"], ["--version"], ["doctor", "--help"]])
def test_help_into_a_closed_pipe_is_quiet(flags):
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = hftop(*flags, stdout=write_end)
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr


def test_doctor_help_is_doctors_own():
    done = hftop("doctor", "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: hftop doctor"), done.stdout
    assert "--watch" in done.stdout and "status 0 when all is well" in " ".join(done.stdout.split())
    assert "--demo" not in done.stdout and "--refresh" not in done.stdout


def test_doctor_through_head_is_quiet(tmp_path):
    """The command as a user types it; whether head closes before the write is up to timing, which
    the closed-pipe test above takes out."""
    shell = f"{sys.executable} -m tui doctor --json --watch 0 --cache-dir {tmp_path} | head -c 1"
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=30)
    assert done.stdout == "{" and "Traceback" not in done.stderr, done.stderr


# The probes, given an address the HTTP client refuses: a worded error, never httpx2.InvalidURL
# escaping a worker (the picker said "probing…" and the add dialog "Asking…" forever).
BAD_URLS = ["https://hub.example/\x00x", "https://hub.example:abc", "https://" + "a" * 70 + ".example"]


@pytest.mark.parametrize("url", BAD_URLS, ids=["nul", "port", "long-label"])
def test_probe_mirror_words_a_bad_url(url):
    probe = probe_mirror(url, timeout=2)
    assert not probe.reachable and probe.latency is None
    assert re.search(r"(?i)check the mirror (url|address)\.$", probe.message), probe.message


@pytest.mark.parametrize("url", BAD_URLS, ids=["nul", "port", "long-label"])
def test_plan_and_lookup_word_a_bad_url(tmp_path, url):
    with pytest.raises(RequestError, match=r"(?i)check the mirror (URL|address)"):
        plan_download(DownloadRequest("org/name"), endpoint=url, cache_dir=tmp_path, token=False)
    with pytest.raises(RequestError, match=r"(?i)check the mirror (URL|address)"):
        lookup_blob(url, "model", "org/name", "main", "0" * 64)
