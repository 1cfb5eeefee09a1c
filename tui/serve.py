"""`hftop serve`: the dashboard in a browser, through textual-serve.

Each browser tab gets its own hftop process, started from an argument list: textual-serve starts its app
through a shell, so its app service is replaced by one that executes the command's words directly.
"""

from __future__ import annotations

import asyncio
import shlex
import socket
import sys
from asyncio.subprocess import Process
from typing import Any

from textual_serve import server as textual_server
from textual_serve.app_service import AppService

from tui.exporter import is_loopback_host


class _ExecAppService(AppService):
    """textual-serve's app service, starting the app with `create_subprocess_exec` (no shell)."""

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        self._process = process = await asyncio.create_subprocess_exec(
            *shlex.split(self.command),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process


class _Server(textual_server.Server):
    """textual-serve's server, writing into the page the address the browser used (its Host header), not the
    one bound: a page served on 0.0.0.0, on an IPv6 address or through a tunnel then finds its script and
    its websocket."""

    async def handle_index(self, request: Any) -> Any:  # an aiohttp request
        self.public_url = f"{request.scheme}://{request.host}"
        return await super().handle_index(request)


def can_listen(host: str, port: int) -> str | None:
    """None when `host:port` can be bound now; else why not, in words."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        return f"cannot listen on {host}:{port}: {getattr(error, 'strerror', None) or error}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            return f"cannot listen on {host}:{port}: {error.strerror or error}"
    return None


def app_argv(options: list[str], allow_actions: bool) -> list[str]:
    """The command line of each browser tab's hftop: read-only unless actions are allowed."""
    return [sys.executable, "-m", "tui", *options, *([] if allow_actions else ["--read-only"])]


def warning(host: str, allow_actions: bool) -> str | None:
    if is_loopback_host(host):
        return None
    if allow_actions:
        return (
            f"hftop serve: listening on {host}, not loopback, with --allow-actions: anyone who reaches it can stop "
            "this machine's download processes and delete files in its cache."
        )
    return f"hftop serve: listening on {host}, not loopback: anyone who reaches it sees this machine's downloads."


def serve(options: list[str], host: str, port: int, allow_actions: bool) -> int:
    problem = can_listen(host, port)
    if problem is not None:
        print(f"hftop: {problem}", file=sys.stderr)
        return 1
    textual_server.AppService = _ExecAppService  # type: ignore[misc]
    command = shlex.join(app_argv(options, allow_actions))
    where = f"[{host}]" if ":" in host else host
    note = warning(host, allow_actions)
    if note:
        print(note, file=sys.stderr, flush=True)
    mode = "actions allowed" if allow_actions else "read-only (--allow-actions lets it start, stop and delete)"
    print(f"hftop serve: the dashboard on http://{where}:{port}/, {mode}", file=sys.stderr, flush=True)
    try:
        _Server(command, host=host, port=port, title="hftop").serve()
    except OSError as error:
        print(f"hftop: cannot listen on {host}:{port}: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0
