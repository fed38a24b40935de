"""Emulator: strict mode over the package's model table, through boto3's real client.

Each test takes the rows with a property (profile only, no system prompts, no streaming
tools...) and checks the emulator refuses or serves them as Bedrock does in that region.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.capabilities.model import ModelCapabilities
from gateway.emulator import rules
from gateway.emulator.runner import RunningEmulator
from tests.support.emulator_strict import (
    TOOLS,
    USER,
    callable_id,
    client,
    offered_in,
    refusal,
    rows,
)

EAST = "us-east-1"
VALIDATION = "ValidationException"


@pytest.fixture(scope="module")
def east(emulator_server: RunningEmulator) -> Any:
    return client(emulator_server.url, EAST)


def _converse(bedrock: Any, model_id: str, stream: bool = False, **body: Any) -> Any:
    if stream:
        response = bedrock.converse_stream(modelId=model_id, messages=USER, **body)
        return list(response["stream"])
    return bedrock.converse(modelId=model_id, messages=USER, **body)


# --- model ids per region ------------------------------------------------------------------


@pytest.mark.parametrize(
    "row", rows(lambda r: EAST not in r.on_demand_regions and offered_in(r, EAST))
)
def test_base_id_of_profile_only_model_is_refused(east: Any, row: ModelCapabilities) -> None:
    assert refusal(lambda: _converse(east, row.base_id)) == (
        400,
        VALIDATION,
        f"Invocation of model ID {row.base_id} with on-demand throughput isn\u2019t supported. "
        "Retry your request with the ID or ARN of an inference profile that contains this model.",
    )
    reply = _converse(east, callable_id(row, EAST))
    assert reply["output"]["message"]["content"][0]["text"].startswith(f"Hello from {row.base_id}")


@pytest.mark.parametrize("row", rows(lambda r: bool(r.on_demand_regions)))
def test_base_id_served_on_demand_in_its_regions(
    emulator_server: RunningEmulator, row: ModelCapabilities
) -> None:
    for region in sorted(row.on_demand_regions):
        reply = _converse(client(emulator_server.url, region), row.base_id)
        assert reply["stopReason"] == "end_turn"


@pytest.mark.parametrize("row", rows(lambda r: "eu" in r.profiles))
def test_profile_of_another_geography_is_invalid(east: Any, row: ModelCapabilities) -> None:
    for model_id in (
        f"eu.{row.base_id}",
        f"arn:aws:bedrock:{EAST}:123456789012:inference-profile/eu.{row.base_id}",
    ):
        assert refusal(lambda m=model_id: _converse(east, m)) == (
            400,
            VALIDATION,
            rules.INVALID_MODEL,
        )


@pytest.mark.parametrize("row", rows(lambda r: "apac" not in r.profiles and offered_in(r, EAST)))
def test_profile_the_model_lacks_is_invalid(east: Any, row: ModelCapabilities) -> None:
    status, code, message = refusal(lambda: _converse(east, f"apac.{row.base_id}"))
    assert (status, code, message) == (400, VALIDATION, rules.INVALID_MODEL)


@pytest.mark.parametrize(
    "model_id", ["anthropic.claude-unknown-v9:0", "gpt-4o", "us.meta.nothing-here-v1:0"]
)
def test_unknown_model_id_is_invalid(east: Any, model_id: str) -> None:
    assert refusal(lambda: _converse(east, model_id)) == (400, VALIDATION, rules.INVALID_MODEL)


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("row", rows(lambda r: offered_in(r, EAST))[:3])
def test_access_denied_per_model(east: Any, control: Any, row: ModelCapabilities) -> None:
    model_id = callable_id(row, EAST)
    assert control("PUT", f"/access/{model_id}", {"granted": False}) == (
        200,
        {"model_id": row.base_id, "granted": False},
    )
    assert refusal(lambda: _converse(east, model_id)) == (
        403,
        "AccessDeniedException",
        rules.NO_ACCESS,
    )
    assert control("GET", "/access")[1] == {"denied": [row.base_id]}
    control("PUT", f"/access/{row.base_id}", {"granted": True})
    assert _converse(east, model_id)["stopReason"] == "end_turn"


def test_bad_access_body(control: Any) -> None:
    status, body = control("PUT", "/access/anthropic.x", {"granted": "no"})
    assert status == 400 and "granted" in body["message"]


# --- what a model cannot do ------------------------------------------------------------------

SYSTEM = [{"text": "Be brief."}]


@pytest.mark.parametrize("row", rows(lambda r: offered_in(r, EAST)))
def test_system_prompt(east: Any, row: ModelCapabilities) -> None:
    model_id = callable_id(row, EAST)
    if row.system_prompt:
        assert _converse(east, model_id, system=SYSTEM)["stopReason"] == "end_turn"
    else:
        assert refusal(lambda: _converse(east, model_id, system=SYSTEM)) == (
            400,
            VALIDATION,
            rules.NO_SYSTEM,
        )


@pytest.mark.parametrize("stream", [False, True], ids=["converse", "stream"])
@pytest.mark.parametrize("row", rows(lambda r: offered_in(r, EAST)))
def test_tools(east: Any, row: ModelCapabilities, stream: bool) -> None:
    model_id = callable_id(row, EAST)
    expected = None
    if stream and not row.converse_stream:
        expected = rules.NO_STREAMING
    elif not row.tools:
        expected = rules.NO_TOOLS
    elif stream and not row.streaming_tools:
        expected = rules.NO_STREAMING_TOOLS
    if expected is None:
        _converse(east, model_id, stream, toolConfig=TOOLS)
    else:
        assert refusal(lambda: _converse(east, model_id, stream, toolConfig=TOOLS)) == (
            400,
            VALIDATION,
            expected,
        )


@pytest.mark.parametrize("kind", ["any", "tool"])
@pytest.mark.parametrize("row", rows(lambda r: r.tools and offered_in(r, EAST)))
def test_tool_choice(east: Any, row: ModelCapabilities, kind: str) -> None:
    choice = {"any": {}} if kind == "any" else {"tool": {"name": "get_weather"}}
    config = {**TOOLS, "toolChoice": choice}
    model_id = callable_id(row, EAST)
    if kind in row.tool_choice:
        reply = _converse(east, model_id, toolConfig=config)
        assert reply["stopReason"] == "tool_use"
    else:
        assert refusal(lambda: _converse(east, model_id, toolConfig=config)) == (
            400,
            VALIDATION,
            f"This model doesn't support the toolConfig.toolChoice.{kind} field. "
            f"Remove toolConfig.toolChoice.{kind} and try again.",
        )


IMAGE = {"image": {"format": "png", "source": {"bytes": b"\x89PNG\r\n\x1a\n0000"}}}
DOCUMENT = {"document": {"format": "txt", "name": "notes", "source": {"bytes": b"some notes"}}}


@pytest.mark.parametrize(
    ("kind", "block", "flag"), [("image", IMAGE, "images"), ("document", DOCUMENT, "documents")]
)
@pytest.mark.parametrize("row", rows(lambda r: offered_in(r, EAST)))
def test_content_blocks(
    east: Any, row: ModelCapabilities, kind: str, block: dict[str, Any], flag: str
) -> None:
    messages = [{"role": "user", "content": [{"text": "look"}, block]}]
    model_id = callable_id(row, EAST)

    def call() -> Any:
        return east.converse(modelId=model_id, messages=messages)

    if getattr(row, flag):
        assert call()["stopReason"] == "end_turn"
    else:
        assert refusal(call) == (400, VALIDATION, rules.NO_BLOCK.format(kind=kind))


# --- output tokens ---------------------------------------------------------------------------


def _long(tokens: int) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": f"write at length [emulator:long={tokens}]"}]}]


@pytest.mark.parametrize("row", rows(lambda r: r.max_output_tokens > 0 and offered_in(r, EAST)))
def test_max_tokens_above_the_model_limit(east: Any, row: ModelCapabilities) -> None:
    model_id = callable_id(row, EAST)
    limit = row.max_output_tokens
    assert refusal(
        lambda: east.converse(
            modelId=model_id, messages=USER, inferenceConfig={"maxTokens": limit + 1}
        )
    ) == (400, VALIDATION, rules.MAX_TOKENS.format(limit=limit))
    reply = east.converse(modelId=model_id, messages=USER, inferenceConfig={"maxTokens": limit})
    assert reply["stopReason"] == "end_turn"


@pytest.mark.parametrize(
    "row", rows(lambda r: r.default_output_tokens is not None and offered_in(r, EAST))
)
def test_answer_cut_at_the_default_output_tokens(east: Any, row: ModelCapabilities) -> None:
    default = row.default_output_tokens
    assert default is not None
    model_id = callable_id(row, EAST)
    reply = east.converse(modelId=model_id, messages=_long(default + 50))
    assert (reply["stopReason"], reply["usage"]["outputTokens"]) == ("max_tokens", default)
    short = east.converse(modelId=model_id, messages=_long(default - 1))
    assert (short["stopReason"], short["usage"]["outputTokens"]) == ("end_turn", default - 1)
    capped = east.converse(
        modelId=model_id, messages=_long(default + 50), inferenceConfig={"maxTokens": 7}
    )
    assert (capped["stopReason"], capped["usage"]["outputTokens"]) == ("max_tokens", 7)


def test_without_a_default_the_cut_is_the_model_maximum(east: Any) -> None:
    candidates = rows(
        lambda r: r.default_output_tokens is None and r.max_output_tokens and offered_in(r, EAST)
    )
    assert candidates, "the table has no row without a default output limit"
    row = min((param.values[0] for param in candidates), key=lambda r: r.max_output_tokens)
    reply = east.converse(modelId=callable_id(row, EAST), messages=_long(row.max_output_tokens + 5))
    assert (reply["stopReason"], reply["usage"]["outputTokens"]) == (
        "max_tokens",
        row.max_output_tokens,
    )


def test_streamed_answer_cut_at_the_default(east: Any) -> None:
    candidates = rows(
        lambda r: r.default_output_tokens is not None and r.converse_stream and offered_in(r, EAST)
    )
    assert candidates, "the table has no row with a default output limit"
    row = candidates[0].values[0]
    response = east.converse_stream(
        modelId=callable_id(row, EAST), messages=_long(row.default_output_tokens + 10)
    )
    events = list(response["stream"])
    text = "".join(
        e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e
    )
    stop = next(e["messageStop"]["stopReason"] for e in events if "messageStop" in e)
    assert (stop, len(text)) == ("max_tokens", row.default_output_tokens * 4)


# --- operations and the mode switch ----------------------------------------------------------


def test_invoke_on_a_chat_model(east: Any) -> None:
    row = rows(lambda r: offered_in(r, EAST))[0].values[0]
    status, code, message = refusal(
        lambda: east.invoke_model(modelId=callable_id(row, EAST), body=b'{"inputText": "a"}')
    )
    assert (status, code, message) == (400, VALIDATION, rules.NOT_EMBEDDING)


def test_converse_on_an_embedding_model(east: Any) -> None:
    from gateway.capabilities.table import MODELS

    embedding = [row for row in MODELS if row.kind == "embedding" and EAST in row.on_demand_regions]
    assert embedding, "the table has no embedding row on demand in us-east-1"
    for row in embedding:
        assert refusal(lambda r=row: _converse(east, r.base_id)) == (
            400,
            VALIDATION,
            rules.NOT_CHAT,
        )


def test_strict_switch_over_the_control_api(east: Any, control: Any) -> None:
    unknown = "mistral.not-in-the-table-v1:0"
    assert control("GET", "/strict") == (200, {"strict": True})
    assert refusal(lambda: _converse(east, unknown))[2] == rules.INVALID_MODEL
    assert control("PUT", "/strict", {"strict": False}) == (200, {"strict": False})
    assert _converse(east, unknown)["output"]["message"]["content"][0]["text"].startswith(
        f"Hello from {unknown}"
    )
    assert control("PUT", "/strict", {"strict": "yes"})[0] == 400
    assert control("PUT", "/strict", {"strict": True}) == (200, {"strict": True})
