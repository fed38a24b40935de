"""E2E: exact metric values after known traffic (read from a real scrape), and the access log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.emulator.runner import RunningEmulator
from tests.e2e.conftest import KEY, POLICY
from tests.support.servers import GatewayServer, running_gateway

MISTRAL = "mistral.mistral-7b-instruct-v0:2"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
HAIKU_PRICE = (0.25, 1.25)
SECRET_PROMPT = "my-secret-prompt-text"


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{url}/metrics").text
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module")
def traffic(
    emulator: RunningEmulator, caplog_module: list[logging.LogRecord]
) -> Iterator[tuple[GatewayServer, dict[str, Any]]]:
    emulator.state.clear_faults()
    with running_gateway(policies=POLICY, api_keys=KEY, log_format="json") as gw:
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=KEY, max_retries=0)
        usages = []
        plain = client.chat.completions.create(
            model="haiku", messages=[{"role": "user", "content": SECRET_PROMPT}]
        )
        usages.append(plain.usage)
        chunks = list(
            client.chat.completions.create(
                model="haiku",
                messages=[{"role": "user", "content": "stream " + SECRET_PROMPT}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        usages.append(chunks[-1].usage)
        emulator.state.set_fault(MISTRAL, "throttle", times=1)
        client.chat.completions.create(model="chain", messages=[{"role": "user", "content": "fb"}])
        cached = [
            client.chat.completions.with_raw_response.create(
                model="haiku", messages=[{"role": "user", "content": "cache me"}], temperature=0
            )
            for _ in range(2)
        ]
        usages.append(cached[0].parse().usage)
        emulator.state.set_fault(HAIKU, "throttle", times=1)
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(
                model="haiku", messages=[{"role": "user", "content": "t"}]
            )
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(
                model="zzz-random-4242", messages=[{"role": "user", "content": "x"}]
            )
        yield (
            gw,
            {"usages": usages, "cache_headers": [r.headers["x-gateway-cache"] for r in cached]},
        )
    emulator.state.clear_faults()


@pytest.fixture(scope="module")
def caplog_module() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("gateway.access")
    handler = Keep()
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(old)


def test_request_and_routing_counters(traffic: tuple[GatewayServer, dict[str, Any]]) -> None:
    gw, _ = traffic
    s = scrape(gw.url)
    req = "gateway_requests_total"
    assert value(s, req, route="haiku", model="claude-3-haiku", status="200") == 4
    assert value(s, req, route="chain", model="llama3-8b", status="200") == 1
    assert value(s, req, route="haiku", model="claude-3-haiku", status="429") == 1
    assert value(s, req, route="none", model="none", status="404") == 1
    dec = "gateway_routing_decisions_total"
    assert value(s, dec, route="haiku", model="claude-3-haiku", strategy="ordered") == 5
    assert value(s, dec, route="chain", model="mistral-7b", strategy="ordered") == 1
    assert value(s, "gateway_request_duration_seconds_count", route="haiku") == 5
    assert value(s, "gateway_in_flight_requests") == 0


def test_fallback_and_error_counters(traffic: tuple[GatewayServer, dict[str, Any]]) -> None:
    s = scrape(traffic[0].url)
    fb = "gateway_fallbacks_total"
    assert value(s, fb, route="chain", from_model="mistral-7b", reason="throttled") == 1
    assert (
        sum(v for (name, _), v in s.items() if name == fb) == 1
    )  # a last candidate is no fallback
    err = "gateway_upstream_errors_total"
    assert value(s, err, model="mistral-7b", error="throttled") == 1
    assert value(s, err, model="claude-3-haiku", error="throttled") == 1


def test_upstream_ttft_tokens_and_cost(traffic: tuple[GatewayServer, dict[str, Any]]) -> None:
    gw, seen = traffic
    s = scrape(gw.url)
    assert value(s, "gateway_upstream_duration_seconds_count", model="claude-3-haiku") == 3
    assert value(s, "gateway_upstream_duration_seconds_count", model="llama3-8b") == 1
    assert value(s, "gateway_time_to_first_token_seconds_count", model="claude-3-haiku") == 1
    prompt = sum(u.prompt_tokens for u in seen["usages"])
    output = sum(u.completion_tokens for u in seen["usages"])
    assert value(s, "gateway_tokens_total", model="claude-3-haiku", direction="input") == prompt
    assert value(s, "gateway_tokens_total", model="claude-3-haiku", direction="output") == output
    expected = (prompt * HAIKU_PRICE[0] + output * HAIKU_PRICE[1]) / 1e6
    cost = value(
        s, "gateway_cost_usd_total", route="haiku", model="claude-3-haiku", tenant="default"
    )
    assert cost == pytest.approx(expected, rel=1e-9)


def test_cache_counters(traffic: tuple[GatewayServer, dict[str, Any]]) -> None:
    gw, seen = traffic
    assert seen["cache_headers"] == ["miss", "hit"]
    s = scrape(gw.url)
    assert value(s, "gateway_cache_requests_total", result="miss") == 1
    assert value(s, "gateway_cache_requests_total", result="hit") == 1
    assert value(s, "gateway_cache_requests_total", result="bypass") == 4
    usage = seen["usages"][2]
    saved = (usage.prompt_tokens * HAIKU_PRICE[0] + usage.completion_tokens * HAIKU_PRICE[1]) / 1e6
    assert value(s, "gateway_cache_saved_usd_total", route="haiku") == pytest.approx(saved)


def test_unknown_model_name_leaves_no_trace(traffic: tuple[GatewayServer, dict[str, Any]]) -> None:
    text = httpx.get(f"{traffic[0].url}/metrics").text
    assert "zzz-random-4242" not in text
    assert "gateway_build_info" in text


def test_access_log_is_json_without_secrets(
    traffic: tuple[GatewayServer, dict[str, Any]], caplog_module: list[logging.LogRecord]
) -> None:
    # Only this module's gateway logs JSON; other gateways of the session write text lines.
    lines = [r.getMessage() for r in caplog_module if r.getMessage().startswith("{")]
    assert len(lines) == 7
    records = [orjson.loads(line) for line in lines]
    assert {r["status"] for r in records} == {200, 429, 404}
    assert all(r["request_id"] and "latency_ms" in r for r in records)
    assert any(r["ttft_ms"] is not None for r in records)
    refused = next(r for r in records if r["status"] == 404)
    assert refused["requested"] == "zzz-random-4242"  # the 4xx names the model asked for
    assert {r["requested"] for r in records if r["status"] == 200} == {"haiku", "chain"}
    joined = "\n".join(lines)
    assert KEY not in joined and SECRET_PROMPT not in joined and "cache me" not in joined


def test_text_access_line_of_a_4xx_names_the_model_and_no_none(
    emulator: RunningEmulator, caplog_module: list[logging.LogRecord]
) -> None:
    with running_gateway(policies=POLICY, api_keys=KEY, log_format="text") as gw:
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=KEY, max_retries=0)
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(
                model="no-such-model-7117", messages=[{"role": "user", "content": "x"}]
            )
        client.chat.completions.create(model="haiku", messages=[{"role": "user", "content": "y"}])
    lines = [r.getMessage() for r in caplog_module if r.getMessage().startswith("event=request")]
    refused = [line for line in lines if "requested=no-such-model-7117" in line]
    assert len(refused) == 1 and "status=404" in refused[0], lines
    assert "None" not in refused[0] and "ttft_ms" not in refused[0] and "model=" not in refused[0]
    served = [line for line in lines if "requested=haiku" in line]
    assert served and "model=" in served[-1] and "ttft_ms=" not in served[-1]  # not streamed


def test_prompts_are_logged_only_with_the_debug_setting(
    emulator: RunningEmulator, caplog_module: list[logging.LogRecord]
) -> None:
    marker = "debug-marker-" + "7" * 8
    with running_gateway(policies=POLICY, api_keys=KEY, log_format="json", log_prompts=True) as gw:
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=KEY, max_retries=0)
        client.chat.completions.create(
            model="haiku", messages=[{"role": "user", "content": marker}]
        )
        list(
            client.chat.completions.create(
                model="haiku", messages=[{"role": "user", "content": marker + "s"}], stream=True
            )
        )
    lines = [orjson.loads(r.getMessage()) for r in caplog_module if marker in r.getMessage()]
    assert len(lines) == 2
    assert all(marker in line["debug"]["prompt"] for line in lines)
    assert all("You said" in line["debug"]["answer"] for line in lines)
    assert all(KEY not in orjson.dumps(line).decode() for line in lines)
