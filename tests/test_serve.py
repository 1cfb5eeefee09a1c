"""`hftop serve`: the dashboard in headless Chromium (Debian's `chromium`, which `.ci/run` installs)."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

CHROMIUM = shutil.which("chromium")
# Chromium in a sandboxless container with a closed network: as the machine's notes say it starts here.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.2)


def _serve(port: int, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui", "serve", "--port", str(port), *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


async def _screenshot(url: str, out: Path, seconds: float, size: tuple[int, int] = (1400, 900)) -> None:
    """Open `url` in headless Chromium, wait `seconds`, save a PNG: through the DevTools protocol."""
    import aiohttp

    port = _free_port()
    chromium = subprocess.Popen(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--remote-debugging-port={port}", f"--window-size={size[0]},{size[1]}",
         f"--user-data-dir={out.parent / 'chromium-profile'}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        targets = json.loads(_wait_http(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        async with aiohttp.ClientSession() as session, session.ws_connect(page["webSocketDebuggerUrl"]) as ws:
            ids = iter(range(1, 1000))

            async def call(method: str, **params: object) -> dict:
                n = next(ids)
                await ws.send_json({"id": n, "method": method, "params": params})
                while True:
                    message = await ws.receive_json(timeout=60)
                    if message.get("id") == n:
                        return message.get("result", {})

            await call("Page.enable")
            await call("Page.navigate", url=url)
            await asyncio.sleep(seconds)
            shot = await call("Page.captureScreenshot", format="png")
            out.write_bytes(base64.b64decode(shot["data"]))
    finally:
        chromium.kill()
        chromium.wait()


def _tui_children(server: subprocess.Popen[str]) -> list[psutil.Process]:
    return [c for c in psutil.Process(server.pid).children(recursive=True) if "tui" in " ".join(c.cmdline())]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
async def test_the_dashboard_in_headless_chromium(tmp_path):
    port = _free_port()
    server = _serve(port, "--demo")
    try:
        page = _wait_http(f"http://127.0.0.1:{port}/")
        assert "textual-terminal" in page
        assert not _tui_children(server), "no hftop runs before a browser opens the page"
        shot = tmp_path / "serve.png"
        children: list[psutil.Process] = []

        async def watch() -> None:
            while not children:
                children.extend(_tui_children(server))
                await asyncio.sleep(0.2)

        watcher = asyncio.ensure_future(watch())
        await _screenshot(f"http://127.0.0.1:{port}/", shot, seconds=20)
        watcher.cancel()
        (app,) = [c for c in children if "--demo" in c.cmdline()][:1]
        # The tab's hftop: started without a shell, read-only as no --allow-actions was given.
        assert app.cmdline()[:3] == [sys.executable, "-m", "tui"] and "--read-only" in app.cmdline()
        assert app.parent().pid == server.pid, "started by the server itself, not by a shell in between"
        # The terminal drew the dashboard: an empty page of one colour compresses to a few kB.
        assert shot.stat().st_size > 60_000, f"the page looks empty ({shot.stat().st_size} bytes of PNG)"
    finally:
        server.terminate()
        server.wait(timeout=15)
    assert "Traceback" not in server.stderr.read()


def test_the_page_names_the_address_the_browser_used_not_the_one_bound():
    """Bound to 0.0.0.0 (or reached through a tunnel), the page's script and websocket must still be found."""
    port = _free_port()
    server = _serve(port, "--host", "0.0.0.0")
    try:
        _wait_http(f"http://127.0.0.1:{port}/")
        request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": "gpu-node-7.example:8443"})
        with urllib.request.urlopen(request, timeout=5) as response:
            page = response.read().decode()
        assert "ws://gpu-node-7.example:8443/ws" in page and "http://gpu-node-7.example:8443/static/" in page
        assert "0.0.0.0" not in page
    finally:
        server.terminate()
        server.wait(timeout=15)
    assert "not loopback" in server.stderr.read()


def test_a_port_in_use_is_said_before_anything_else():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "tui", "serve", "--port", str(port)], capture_output=True, text=True, timeout=30
        )
    assert done.returncode == 1 and "cannot listen on 127.0.0.1" in done.stderr
    assert "the dashboard on" not in done.stderr and "Traceback" not in done.stderr


def test_a_non_loopback_address_is_warned_about(tmp_path):
    from tui.serve import warning

    assert warning("127.0.0.1", allow_actions=True) is None
    assert "can stop this machine's download processes and delete files" in (warning("0.0.0.0", True) or "")
    assert "sees this machine's downloads" in (warning("0.0.0.0", False) or "")


@pytest.mark.parametrize(
    ("flags", "message"),
    [(("--port", "0"), "--port takes 1 to 65535"), (("--endpoint", "ftp://x"), "--endpoint")],
)
def test_bad_input_gets_a_sentence_before_any_browser(flags, message):
    done = subprocess.run([sys.executable, "-m", "tui", "serve", *flags], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
