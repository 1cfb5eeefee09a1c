"""`hftop exporter` scraped by a real Prometheus (Debian's `prometheus` package, which `.ci/run` installs)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

RULES = Path(__file__).parents[1] / "tui" / "monitoring" / "hftop-rules.yml"
DASHBOARD = Path(__file__).parents[1] / "tui" / "monitoring" / "grafana-dashboard.json"

needs_prometheus = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("promtool") is None,
    reason="Debian's prometheus package is not installed (.ci/run installs it)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def _exporter(cache: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui", "exporter", "--listen", f"127.0.0.1:{port}", "--cache-dir", str(cache),
         "--stall-after", "0.05", "--refresh", "0.5"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def _one_scrape(cache: Path) -> tuple[str, bytes]:
    """The metrics of an exporter on `cache` at its first scrape, and what it printed on stderr."""
    port = _free_port()
    exporter = _exporter(cache, port)
    try:
        metrics = _until("the metrics", lambda: _get(f"http://127.0.0.1:{port}/metrics"), timeout=30)
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)
    assert exporter.stderr is not None
    return metrics, exporter.stderr.read()


def _until(what: str, probe, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = probe()
        except OSError:
            found = None
        if found:
            return found
        assert time.monotonic() < deadline, f"not seen within {timeout} s: {what}"
        time.sleep(0.5)


@needs_prometheus
def test_prometheus_scraping_the_exporter_finds_the_stalled_download(outside_downloader, tmp_path):
    proc, cache = outside_downloader
    exporter_port, prometheus_port = _free_port(), _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files: ['{RULES}']\n"
        f"scrape_configs:\n  - job_name: hftop\n    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n"
    )
    exporter = _exporter(cache, exporter_port)
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{prometheus_port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        query = 'hftop_download_state{state="stalled",repo="hftop-demo/qwen-small"} == 1'
        url = f"http://127.0.0.1:{prometheus_port}/api/v1/query?query={urllib.parse.quote(query)}"
        result = _until("the stalled download in Prometheus", lambda: json.loads(_get(url))["data"]["result"])
        (series,) = result
        labels = series["metric"]
        assert labels["file"] == "model.safetensors" and labels["pid"] == str(proc.pid)
        assert labels["transport"] == "plain HTTP" and labels["job"] == "hftop"

        rules = json.loads(_get(f"http://127.0.0.1:{prometheus_port}/api/v1/rules"))["data"]["groups"]
        assert {r["name"] for g in rules for r in g["rules"]} >= {"HfDownloadStalled", "HfCacheDiskAlmostFull"}

        metrics = _get(f"http://127.0.0.1:{exporter_port}/metrics")
        assert f'hftop_cache_filesystem_free_bytes{{cache_dir="{cache}"}}' in metrics
        assert 'hftop_downloads{state="stalled"} 1.0' in metrics
    finally:
        prometheus.terminate()
        exporter.terminate()
        prometheus.wait(timeout=10)
        assert exporter.wait(timeout=10) == 0, "SIGTERM ends the exporter cleanly"
        assert b"Traceback" not in exporter.stderr.read()


@needs_prometheus
def test_promtool_accepts_the_shipped_rules():
    done = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 6 rules found" in done.stdout


def test_the_grafana_dashboard_queries_only_metrics_the_exporter_serves(demo_cache):
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    metrics, _ = _one_scrape(demo_cache)
    served = {line.split()[2] for line in metrics.splitlines() if line.startswith("# TYPE hftop_")}
    for expr in exprs:
        used = {
            word
            for word in expr.replace("(", " ").replace("{", " ").replace("/", " ").split()
            if word.startswith("hftop_")
        }
        assert used and used <= served, (expr, used - served)


@pytest.mark.parametrize(
    ("listen", "message"),
    [("9877", "--listen takes HOST:PORT"), ("127.0.0.1:99999", "--listen takes HOST:PORT"), (":80", "HOST:PORT")],
)
def test_a_bad_listen_address_gets_a_sentence(listen, message, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "tui", "exporter", "--listen", listen, "--cache-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_a_port_in_use_gets_a_sentence(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "tui", "exporter", "--listen", f"127.0.0.1:{port}", "--cache-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1 and "cannot listen on" in done.stderr and "Traceback" not in done.stderr


def test_a_cache_not_there_yet_reads_0_and_is_said(tmp_path):
    cache = tmp_path / "not-yet" / "hub"
    metrics, stderr = _one_scrape(cache)
    assert f'hftop_cache_size_bytes{{cache_dir="{cache}"}} 0.0' in metrics
    assert f'hftop_cache_repos{{cache_dir="{cache}"}} 0.0' in metrics
    assert b"no Hub cache at" in stderr
