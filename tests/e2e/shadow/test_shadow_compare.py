"""``gateway compare``: a JSONL workload against several models of the emulator."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.compare import read_requests, run_compare
from gateway.compare_args import add_compare_parser
from gateway.emulator.answers import answer
from gateway.emulator.runner import RunningEmulator
from gateway.routing import load_policy
from gateway.routing.engine import actual_cost
from gateway.translation.openai_to_converse import converse_body
from tests.e2e.shadow.conftest import POLICY

REQUESTS = Path(__file__).parent / "data" / "requests.jsonl"
MODELS = ["claude-3-haiku", "nova-lite", "mistral-large"]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gateway")
    add_compare_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["compare", *argv])


def expected_usage(model_name: str, behaviour: Any = None) -> tuple[int, int]:
    """What the emulator's deterministic answers cost in tokens, request by request."""
    model = load_policy(POLICY).models[model_name]
    tokens_in = tokens_out = 0
    for item in read_requests(REQUESTS):
        body = converse_body(item.prepared, model.bedrock_id)
        usage = answer(body, model.bedrock_id, behaviour).usage
        tokens_in, tokens_out = tokens_in + usage["inputTokens"], tokens_out + usage["outputTokens"]
    return tokens_in, tokens_out


def test_compare_json_matches_the_emulators_answers(
    emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.state.set_behaviour("amazon.nova-lite-v1:0", tool_arguments={"city": "Paris"})
    emulator.state.reset_calls()
    args = parse(["--policy", str(POLICY), "--models", ",".join(MODELS), "--json", str(REQUESTS)])
    assert run_compare(args) == 0
    result = orjson.loads(capsys.readouterr().out)
    assert result["reference"] == "claude-3-haiku" and result["requests"] == 3
    policy = load_policy(POLICY)
    from gateway.emulator.state import Behaviour

    behaviours = {"nova-lite": Behaviour(tool_arguments={"city": "Paris"})}
    for name in MODELS:
        row = result["models"][name]
        assert (row["calls"], row["answered"], row["errors"]) == (3, 3, {})
        tokens_in, tokens_out = expected_usage(name, behaviours.get(name))
        assert row["tokens"] == {"input": tokens_in, "output": tokens_out}
        cost = actual_cost(policy.models[name], tokens_in, tokens_out)
        assert row["cost_usd"]["total"] == pytest.approx(cost, rel=1e-6)
        assert row["latency_ms"]["n"] == 3
        assert emulator.state.counts()[policy.models[name].bedrock_id]["converse"] == 3
    # Texts name the model, so only the tool-call answer can match the reference exactly.
    assert result["models"]["mistral-large"]["agreement"]["exact"] == {"rate": 0.333333, "n": 3}
    assert result["models"]["mistral-large"]["agreement"]["tool_calls"] == {"rate": 1.0, "n": 1}
    assert result["models"]["nova-lite"]["agreement"]["exact"] == {"rate": 0.0, "n": 3}
    assert result["models"]["nova-lite"]["agreement"]["tool_calls"] == {"rate": 0.0, "n": 1}
    assert result["models"]["claude-3-haiku"]["agreement"]["exact"] == {"rate": 1.0, "n": 3}


def test_compare_prints_a_table_and_counts_errors(
    emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.state.set_fault("mistral.mistral-large-2402-v1:0", "throttle")
    args = parse(
        ["--policy", str(POLICY), "--models", ",".join(MODELS), "--concurrency", "2", str(REQUESTS)]
    )
    assert run_compare(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "3 requests, reference claude-3-haiku"
    assert lines[1].split()[:4] == ["model", "calls", "errors", "p50"]
    for column in ("ttft p50", "valid JSON", "length ratio"):
        assert column in lines[1]
    rows = {line.split()[0]: line for line in lines[2:]}
    tokens_in, tokens_out = expected_usage("claude-3-haiku")
    haiku_cost = actual_cost(load_policy(POLICY).models["claude-3-haiku"], tokens_in, tokens_out)
    assert f"{tokens_in}/{tokens_out}" in rows["claude-3-haiku"]
    assert f"{haiku_cost:.6f}" in rows["claude-3-haiku"]
    assert "(reference)" in rows["claude-3-haiku"]
    assert "throttled 3" in rows["mistral-large"]
    assert "33% (3)" in rows["nova-lite"] and "100% (1)" in rows["nova-lite"]


def test_compare_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\nnot json\n')
    assert run_compare(parse(["--policy", str(POLICY), "--models", "nova-lite", str(bad)])) == 2
    assert f"{bad}:2: not JSON" in capsys.readouterr().err
    args = parse(["--policy", str(POLICY), "--models", "nova-lite,titan-embed-v2", str(REQUESTS)])
    assert run_compare(args) == 2
    assert "'titan-embed-v2' is not a chat model" in capsys.readouterr().err
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}], "n": 3}\n')
    assert run_compare(parse(["--policy", str(POLICY), "--models", "nova-lite", str(bad)])) == 2
    assert f"{bad}:1:" in capsys.readouterr().err


JSON_AND_TEXT = (
    '{"messages": [{"role": "user", "content": "colours"}], '
    '"response_format": {"type": "json_object"}}\n'
    '{"messages": [{"role": "user", "content": "count to three"}], "stream": true}\n'
)


def test_compare_table_shows_json_validity_length_ratio_and_ttft(
    emulator: RunningEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.state.clear_faults()
    work = tmp_path / "mixed.jsonl"
    work.write_text(JSON_AND_TEXT)
    assert (
        run_compare(parse(["--policy", str(POLICY), "--models", "nova-lite,mistral-7b", str(work)]))
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    head = lines[1]
    rows = {line.split()[0]: line for line in lines[2:]}
    cells = dict(zip(head.split("  "), rows["mistral-7b"].split("  "), strict=False))
    assert "100% (1)" in rows["mistral-7b"]  # the JSON request answered valid JSON
    ttft_at = head.index("ttft p50")
    assert rows["mistral-7b"][ttft_at:].split()[0] != "-"  # the streamed request has a TTFT
    ratio_at = head.index("length ratio")
    assert float(rows["mistral-7b"][ratio_at:].split()[0]) > 0
    assert cells


def test_compare_html_is_one_self_contained_page_with_the_chart(
    emulator: RunningEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.state.clear_faults()
    page = tmp_path / "compare.html"
    args = parse(
        ["--policy", str(POLICY), "--models", ",".join(MODELS), "--html", str(page), str(REQUESTS)]
    )
    assert run_compare(args) == 0
    text = page.read_text()
    assert text.startswith("<!doctype html>") and "3 requests, reference claude-3-haiku" in text
    assert text.count('<circle data-pair="') == 3 and "mean cost per call" in text
    assert all(f"<td>{name}" in text for name in MODELS)
    assert "<script" not in text and "src=" not in text and "href=" not in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert f"wrote {page}" in capsys.readouterr().err


def _compare_in(tmp_path: Path, *, tty: bool, extra: list[str]) -> str:
    """Run ``gateway compare`` as a process, stderr on a pseudo-terminal or a pipe."""
    import os
    import pty
    import subprocess
    import sys

    command = [sys.executable, "-m", "gateway", "compare", "--policy", str(POLICY)]
    command += ["--models", "nova-lite,mistral-7b", *extra, str(REQUESTS)]
    if not tty:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=60) == 0
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_compare_shows_progress_on_a_terminal_only(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    emulator.state.clear_faults()
    assert "6/6" in _compare_in(tmp_path, tty=True, extra=[])
    assert "calls" not in _compare_in(tmp_path, tty=True, extra=["--json"])
    assert "6/6" not in _compare_in(tmp_path, tty=False, extra=[])
