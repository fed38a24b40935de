"""Shared checks for translation tests: botocore's validator, Bedrock's rules, the openai SDK."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import botocore.validate
import openai
import orjson
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

FIXTURES = Path(__file__).parent / "fixtures"
TOOL_ID = re.compile(r"[a-zA-Z0-9_.:-]{1,64}")
TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
DOCUMENT_NAME = re.compile(r"[A-Za-z0-9 ()\[\]-]{1,200}")


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@functools.cache
def _converse_shape(operation: str) -> Any:
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    return model.operation_model(operation).input_shape


def validate_converse(body: dict[str, Any], model_id: str = "anthropic.claude-3-haiku") -> None:
    """botocore's own ParamValidator (Converse and ConverseStream) plus Bedrock's service rules."""
    orjson.dumps(body)  # the gateway sends JSON itself: everything must serialise
    for operation in ("Converse", "ConverseStream"):
        report = botocore.validate.ParamValidator().validate(
            dict(body, modelId=model_id), _converse_shape(operation)
        )
        assert not report.has_errors(), report.generate_report()
    check_bedrock_rules(body)


def _check_block(block: dict[str, Any], role: str, where: str) -> None:
    assert len(block) == 1, where
    if "text" in block:
        assert isinstance(block["text"], str) and block["text"].strip(), f"blank text at {where}"
    elif "image" in block:
        assert role == "user", f"image outside a user turn at {where}"
        data = block["image"]["source"]["bytes"]
        assert isinstance(data, str), "image bytes must be a base64 string"
        binascii.a2b_base64(data, strict_mode=True)
        assert block["image"]["format"] in ("png", "jpeg", "gif", "webp")
    elif "cachePoint" in block:
        assert block["cachePoint"]["type"] == "default", where
    elif "document" in block:
        assert role == "user", f"document outside a user turn at {where}"
        doc = block["document"]
        assert doc["format"] in ("pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md")
        assert DOCUMENT_NAME.fullmatch(doc["name"]) and "  " not in doc["name"], doc["name"]
        binascii.a2b_base64(doc["source"]["bytes"], strict_mode=True)
    elif "toolUse" in block:
        assert role == "assistant", where
        use = block["toolUse"]
        assert TOOL_ID.fullmatch(use["toolUseId"]), use["toolUseId"]
        assert TOOL_NAME.fullmatch(use["name"]), use["name"]
        assert isinstance(use["input"], dict)
    elif "toolResult" in block:
        assert role == "user", where
        result = block["toolResult"]
        assert TOOL_ID.fullmatch(result["toolUseId"])
        assert result["content"], "empty toolResult content"
        for item in result["content"]:
            if "text" in item:
                assert item["text"].strip()
    else:
        raise AssertionError(f"unexpected block {sorted(block)} at {where}")


def check_bedrock_rules(body: dict[str, Any]) -> None:
    """The service-side rules botocore does not check (Converse message rules)."""
    messages = body["messages"]
    assert messages, "no messages"
    assert messages[0]["role"] == "user", "must start with a user message"
    has_tool_blocks = False
    previous_uses: set[str] = set()
    for n, msg in enumerate(messages):
        if n:
            assert msg["role"] != messages[n - 1]["role"], f"roles do not alternate at {n}"
        assert msg["content"], f"empty content at messages.{n}"
        results = []
        seen_other = False
        if any("document" in block for block in msg["content"]):
            assert any("text" in block for block in msg["content"]), f"document without text {n}"
        points = sum(1 for block in msg["content"] if "cachePoint" in block)
        assert points < len(msg["content"]), f"only cache points at messages.{n}"
        for c, block in enumerate(msg["content"]):
            _check_block(block, msg["role"], f"messages.{n}.content.{c}")
            if "toolResult" in block:
                assert not seen_other, "toolResult blocks must come first"
                results.append(block["toolResult"]["toolUseId"])
            else:
                seen_other = True
            has_tool_blocks |= "toolResult" in block or "toolUse" in block
        if results:
            assert len(results) <= len(previous_uses), "more toolResults than toolUses"
            assert set(results) <= previous_uses, "toolResult without a matching toolUse"
            assert len(set(results)) == len(results), "duplicate toolResult"
        previous_uses = (
            {b["toolUse"]["toolUseId"] for b in msg["content"] if "toolUse" in b}
            if msg["role"] == "assistant"
            else set()
        )
    if has_tool_blocks:
        assert body.get("toolConfig", {}).get("tools"), "toolConfig required with tool blocks"
    for block in body.get("system", ()):
        assert "cachePoint" in block or block["text"].strip()
    config = body.get("inferenceConfig", {})
    for key in ("temperature", "topP"):
        if key in config:
            assert 0 <= config[key] <= 1, key
    for stop in config.get("stopSequences", ()):
        assert stop
    for tool in body.get("toolConfig", {}).get("tools", ()):
        if "cachePoint" in tool:
            continue
        spec = tool["toolSpec"]
        assert TOOL_NAME.fullmatch(spec["name"])
        assert spec["inputSchema"]["json"].get("type") == "object"


def validate_completion(data: dict[str, Any]) -> ChatCompletion:
    orjson.dumps(data)
    return ChatCompletion.model_validate(data)


def replay_stream(chunks: list[dict[str, Any]]) -> ChatCompletion:
    """Validate every chunk and replay them through the openai SDK's own accumulator."""
    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    for chunk in chunks:
        orjson.dumps(chunk)
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    try:
        return state.get_final_completion()
    except openai.LengthFinishReasonError as exc:  # the SDK refuses to "parse" a cut answer
        return exc.completion


def b64_floats(text: str) -> list[float]:
    import array

    values = array.array("f")
    values.frombytes(base64.b64decode(text))
    return values.tolist()
