"""Mirror URLs, the mirror list and who may see a token."""

from __future__ import annotations

import pytest

from tui.core.mirrors import BUILTIN, Mirror, MirrorError, checked_url, mirror_list, token_allowed


@pytest.mark.parametrize(
    ("url", "allow_http", "expected"),
    [
        pytest.param("https://hf-mirror.com/", False, "https://hf-mirror.com", id="https-trailing-slash"),
        pytest.param("http://127.0.0.1:8080", False, "http://127.0.0.1:8080", id="http-loopback"),
        pytest.param("http://localhost:1", False, "http://localhost:1", id="http-localhost"),
        pytest.param("http://[::1]:1", False, "http://[::1]:1", id="http-ipv6-loopback"),
        pytest.param("http://mirror.lan", True, "http://mirror.lan", id="http-insisted"),
    ],
)
def test_good_urls(url, allow_http, expected):
    assert checked_url(url, allow_http=allow_http) == expected


@pytest.mark.parametrize(
    ("url", "words"),
    [
        pytest.param("ftp://mirror", "not an http(s) URL", id="scheme"),
        pytest.param("hf-mirror.com", "not an http(s) URL", id="no-scheme"),
        pytest.param("https://", "not an http(s) URL", id="no-host"),
        pytest.param("http://mirror.lan", "plain http to another machine", id="plain-http"),
        pytest.param("https://m.example?x=1", "no ?query", id="query"),
    ],
)
def test_bad_urls(url, words):
    with pytest.raises(MirrorError, match=words.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        checked_url(url)


def test_token_goes_to_the_official_hub_and_trusted_mirrors_only():
    mine = Mirror("mine", "https://hub.internal", trusted=True)
    mirrors = mirror_list((mine,), "https://hf-mirror.com")
    assert token_allowed("https://huggingface.co", mirrors)
    assert token_allowed("https://hub.internal", mirrors)
    assert not token_allowed("https://hf-mirror.com", mirrors)
    assert not token_allowed("http://127.0.0.1:9", mirror_list((), "http://127.0.0.1:9"))


def test_the_list_has_the_builtins_the_configured_and_the_current():
    mirrors = mirror_list((Mirror("mine", "https://hub.internal"),), "http://127.0.0.1:9")
    assert [m.url for m in mirrors] == [*(m.url for m in BUILTIN), "https://hub.internal", "http://127.0.0.1:9"]
