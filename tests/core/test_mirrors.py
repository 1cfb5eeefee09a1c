"""Mirror URLs, the mirror list and who may see a token."""

from __future__ import annotations

import re

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
        # The HTTP client refuses these in a worker, where they once left "probing…" forever.
        pytest.param("https://hub.example/\u0000x", "control character ('\\x00')", id="nul"),
        pytest.param("https://hub.example/\x7f", "control character", id="del"),
        pytest.param("https://hub.example/a b", "a space or a control character", id="space"),
        pytest.param("https://hub.example/a\u2028b", "a space or a control character", id="line-separator"),
        pytest.param("https://hub.example\udcff", "a space or a control character", id="undecodable-byte"),
        pytest.param("https://hub.example:99999", "not a URL: Port out of range", id="port-range"),
        pytest.param("https://hub.example:abc", "not a URL: Port could not be cast", id="port-text"),
        pytest.param("https://[::1", "not a URL: Invalid IPv6 URL", id="unclosed-ipv6"),
        pytest.param("https://" + "a" * 64 + ".example", "labels of 1 to 63 characters", id="long-label"),
        pytest.param("https://hub..example", "labels of 1 to 63 characters", id="empty-label"),
        pytest.param("https://hub.example/" + "x" * 3000, "3020 characters is not a mirror address", id="long-url"),
        pytest.param("", "not an http(s) URL", id="empty"),
    ],
)
def test_bad_urls(url, words):
    with pytest.raises(MirrorError, match=re.escape(words)):
        checked_url(url)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://user:s3cret@hub.example/", id="user-and-password"),
        pytest.param("https://s3cret@hub.example", id="token-as-user"),
        pytest.param("https://user:s3cret@hub.example:abc/\u0000", id="before-any-other-check"),
    ],
)
def test_credentials_in_a_url_are_refused_and_never_shown(url):
    with pytest.raises(MirrorError) as refused:
        checked_url(url)
    message = str(refused.value)
    assert "put the token in HF_TOKEN, not the URL" in message and "hub.example" in message
    assert "s3cret" not in message


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
