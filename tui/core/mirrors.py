"""The endpoints downloads can use: the official Hub and mirrors, and which of them may see a token."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2

from tui.core.download_plan import is_official_endpoint

OFFICIAL_URL = "https://huggingface.co"
MAX_URL_LENGTH = 2048


class MirrorError(ValueError):
    """A mirror URL hftop will not use; the message says why in words."""


@dataclass(frozen=True)
class Mirror:
    name: str
    url: str
    trusted: bool = False
    """Your token may be sent to it (a mirror you run, or one you trust with your account)."""

    @property
    def official(self) -> bool:
        return is_official_endpoint(self.url)


BUILTIN = (
    Mirror("Hugging Face", OFFICIAL_URL, trusted=True),
    Mirror("hf-mirror.com", "https://hf-mirror.com"),
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def checked_url(url: str, *, allow_http: bool = False) -> str:
    """The URL without a trailing slash, or MirrorError: http or https with a host; plain http only
    to this machine unless `allow_http` (a token or a download over plain http can be read and changed
    on the way)."""
    text = url.strip()
    if len(text) > MAX_URL_LENGTH:
        raise MirrorError(f"a URL of {len(text)} characters is not a mirror address (at most {MAX_URL_LENGTH})")
    scheme, _, rest = text.partition("://")
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "@" in authority:  # checked first, and the URL never echoed: the part before @ may be a password
        shown = f"{scheme}://…@{authority.rpartition('@')[2]}"
        raise MirrorError(
            f"{shown!r}: a mirror URL takes no user name or password; put the token in HF_TOKEN, not the URL"
        )
    odd = next((c for c in text if c.isspace() or not c.isprintable()), None)
    if odd is not None:
        raise MirrorError(f"{url!r} holds a space or a control character ({odd!r}); a URL has none")
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises ValueError for a port that is not a number from 0 to 65535
    except ValueError as e:
        raise MirrorError(f"{url!r} is not a URL: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MirrorError(f"{url!r} is not an http(s) URL with a host name, such as https://hf-mirror.com")
    if parts.query or parts.fragment:
        raise MirrorError(f"{url!r}: a mirror URL takes no ?query or #fragment")
    try:  # what the HTTP client itself refuses would otherwise surface in a worker
        host = httpx2.URL(text).raw_host
    except httpx2.InvalidURL as e:
        raise MirrorError(f"{url!r} is not a URL: {e}") from None
    if not _is_ip(parts.hostname) and not _is_host_name(host):
        raise MirrorError(f"{url!r}: a host name is dot-separated labels of 1 to 63 characters")
    if parts.scheme == "http" and not allow_http and not is_loopback(parts.hostname):
        raise MirrorError(
            f"{url!r} is plain http to another machine: use https, or set allow_http = true for this mirror "
            "in the config if you must"
        )
    return text.rstrip("/")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_host_name(raw_host: bytes) -> bool:
    """The limits of DNS, which the name lookup enforces later with a less helpful error."""
    labels = raw_host.removesuffix(b".").split(b".")
    return len(raw_host) <= 253 and all(0 < len(label) <= 63 for label in labels)


def mirror_list(configured: tuple[Mirror, ...], current: str) -> tuple[Mirror, ...]:
    """The built-in mirrors, then the configured ones (a configured URL replaces a built-in one),
    then the endpoint in use if it is none of them."""
    by_url = {m.url: m for m in BUILTIN}
    for mirror in configured:
        by_url[mirror.url] = mirror
    if current not in by_url:
        by_url[current] = Mirror(urlsplit(current).netloc or current, current)
    return tuple(by_url.values())


def token_allowed(endpoint: str, mirrors: tuple[Mirror, ...]) -> bool:
    """A token goes to the official Hub, or to a mirror the user marked trusted; never elsewhere."""
    if is_official_endpoint(endpoint):
        return True
    return any(m.url == endpoint and m.trusted for m in mirrors)
