"""Checking a download request, choosing its files, and the token rule."""

from __future__ import annotations

import pytest

from tui.core.download_plan import (
    DownloadPlan,
    DownloadRequest,
    PlannedFile,
    RequestError,
    check_request,
    is_official_endpoint,
    parse_patterns,
    plan_summary,
    select_files,
)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        pytest.param(DownloadRequest(""), "Enter a repo id", id="empty"),
        pytest.param(DownloadRequest("a--b"), "is not a repo id", id="double-dash"),
        pytest.param(DownloadRequest("a/b/c"), "is not a repo id", id="too-many-slashes"),
        pytest.param(DownloadRequest("datasets/squad"), "Leave 'datasets/' out", id="type-in-id"),
        pytest.param(DownloadRequest("org/name", repo_type="bucket"), "Unknown repo type", id="bad-type"),
        pytest.param(DownloadRequest("org/name", revision=" "), "Enter a revision", id="blank-revision"),
    ],
)
def test_check_request_refuses_with_a_sentence(request_, message):
    with pytest.raises(RequestError, match=message):
        check_request(request_)


@pytest.mark.parametrize("repo_id", ["gpt2", "openai-community/gpt2", "Org_1/Name.v2-3"])
def test_check_request_accepts_hub_ids(repo_id):
    check_request(DownloadRequest(repo_id))


FILES = ["config.json", "model.safetensors", "onnx/model.onnx", "tokenizer.json"]


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        pytest.param((), FILES, id="whole-repo"),
        pytest.param(("config.json",), ["config.json"], id="one-name"),
        pytest.param(("*.json",), ["config.json", "tokenizer.json"], id="glob"),
        pytest.param(("onnx/",), ["onnx/model.onnx"], id="folder"),
        pytest.param(("config.json", "*.safetensors"), ["config.json", "model.safetensors"], id="several"),
    ],
)
def test_select_files(patterns, expected):
    assert select_files(FILES, patterns, "org/x@main") == expected


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        pytest.param(("model.bin",), "No file 'model.bin' in org/x@main", id="missing-name"),
        pytest.param(("model.onnx",), "Did you mean onnx/model.onnx", id="hint"),
        pytest.param(("*.gguf",), "No file in org/x@main matches", id="glob-matches-nothing"),
    ],
)
def test_select_files_refuses(patterns, message):
    with pytest.raises(RequestError, match=message):
        select_files(FILES, patterns, "org/x@main")


def test_parse_patterns_splits_on_commas_and_spaces():
    assert parse_patterns(" *.json, model.safetensors  onnx/ ") == ("*.json", "model.safetensors", "onnx/")


@pytest.mark.parametrize(
    ("endpoint", "official"),
    [
        ("https://huggingface.co", True),
        ("https://hf.co/", True),
        ("http://huggingface.co", False),
        ("https://hf-mirror.com", False),
        ("https://huggingface.co.evil.example", False),
        ("http://127.0.0.1:8080", False),
    ],
)
def test_token_goes_only_to_huggingface_co_over_https(endpoint, official):
    assert is_official_endpoint(endpoint) is official


def test_plan_totals_and_summary():
    plan = DownloadPlan(
        request=DownloadRequest("org/x"),
        commit="c" * 40,
        files=(PlannedFile("a", 1_000_000, "e1", cached=True), PlannedFile("b", 2_500_000, "e2", cached=False)),
        free_bytes=2_000_000,
    )
    assert (plan.bytes_total, plan.bytes_to_fetch, plan.fits) == (3_500_000, 2_500_000, False)
    assert plan_summary(plan) == "2 files, 2.5 MB to fetch (1 already cached) · 2.0 MB free"
