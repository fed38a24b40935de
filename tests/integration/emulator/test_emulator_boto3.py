"""Emulator: boto3's real bedrock-runtime client against the emulator (signing included)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gateway.emulator.runner import RunningEmulator
from tests.support.emulator_strict import general_model

HAIKU = general_model()  # a live model by property: the table retires ids over time
USER = [{"role": "user", "content": [{"text": "hello there"}]}]
WEATHER = {
    "toolSpec": {
        "name": "get_weather",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            }
        },
    }
}


def test_converse(bedrock: Any) -> None:
    response = bedrock.converse(modelId=HAIKU, messages=USER, inferenceConfig={"maxTokens": 100})
    text = f"Hello from {HAIKU}. You said: hello there"
    assert response["output"] == {"message": {"role": "assistant", "content": [{"text": text}]}}
    assert response["stopReason"] == "end_turn"
    assert response["usage"]["inputTokens"] == 3
    assert response["metrics"]["latencyMs"] >= 1
    assert response["ResponseMetadata"]["RequestId"]


@pytest.mark.lenient
@pytest.mark.parametrize(
    "model_id",
    [
        "us.anthropic.claude-3-haiku-20240307-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.meta.llama3-8b-instruct-v1:0",
        "mistral.mistral-7b-instruct-v0:2",
    ],
)
def test_model_id_forms(bedrock: Any, model_id: str) -> None:
    response = bedrock.converse(modelId=model_id, messages=USER)
    assert response["output"]["message"]["content"][0]["text"].startswith("Hello from ")


def test_converse_stream_events_in_order(bedrock: Any) -> None:
    response = bedrock.converse_stream(modelId=HAIKU, messages=USER)
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == (
        "application/vnd.amazon.eventstream"
    )
    events = list(response["stream"])
    names = [next(iter(event)) for event in events]
    assert names == ["messageStart"] + ["contentBlockDelta"] * 8 + [
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    text = "".join(event["contentBlockDelta"]["delta"]["text"] for event in events[1:9])
    assert text == f"Hello from {HAIKU}. You said: hello there"
    assert events[-2] == {"messageStop": {"stopReason": "end_turn"}}
    assert events[-1]["metadata"]["usage"]["outputTokens"] == -(-len(text) // 4)


def test_tool_use_round_trip(bedrock: Any) -> None:
    config = {"tools": [WEATHER], "toolChoice": {"any": {}}}
    first = bedrock.converse(modelId=HAIKU, messages=USER, toolConfig=config)
    assert first["stopReason"] == "tool_use"
    (block,) = first["output"]["message"]["content"]
    tool_use = block["toolUse"]
    assert tool_use["name"] == "get_weather" and tool_use["input"] == {"city": "city-value"}
    assert tool_use["toolUseId"].startswith("tooluse_")
    result = {"toolResult": {"toolUseId": tool_use["toolUseId"], "content": [{"json": {"t": 21}}]}}
    history = [*USER, first["output"]["message"], {"role": "user", "content": [result]}]
    second = bedrock.converse(modelId=HAIKU, messages=history, toolConfig=config)
    assert second["output"]["message"]["content"] == [
        {"text": f'Tool {tool_use["toolUseId"]} returned: {{"t":21}}'}
    ]


def test_tool_use_stream(bedrock: Any) -> None:
    messages = [{"role": "user", "content": [{"text": "what does get_weather say"}]}]
    response = bedrock.converse_stream(
        modelId=HAIKU, messages=messages, toolConfig={"tools": [WEATHER]}
    )
    events = list(response["stream"])
    start = next(e for e in events if "contentBlockStart" in e)["contentBlockStart"]
    assert start["contentBlockIndex"] == 1 and start["start"]["toolUse"]["name"] == "get_weather"
    fragments = [
        e["contentBlockDelta"]["delta"]["toolUse"]["input"]
        for e in events
        if "contentBlockDelta" in e and "toolUse" in e["contentBlockDelta"]["delta"]
    ]
    assert len(fragments) == 3 and json.loads("".join(fragments)) == {"city": "city-value"}
    assert events[-2] == {"messageStop": {"stopReason": "tool_use"}}


def test_validation_error_through_boto3(bedrock: Any) -> None:
    messages = [{"role": "assistant", "content": [{"text": "hi"}]}]
    with pytest.raises(bedrock.exceptions.ValidationException) as caught:
        bedrock.converse(modelId=HAIKU, messages=messages)
    assert "must start with a user message" in str(caught.value)


def test_invalid_model_id(bedrock: Any) -> None:
    with pytest.raises(bedrock.exceptions.ValidationException, match="model identifier is invalid"):
        bedrock.converse(modelId="gpt-4o", messages=USER)


def test_embedding_model_on_converse(bedrock: Any) -> None:
    with pytest.raises(bedrock.exceptions.ValidationException, match="doesn't support the model"):
        bedrock.converse(modelId="amazon.titan-embed-text-v2:0", messages=USER)


@pytest.mark.lenient
def test_invoke_on_chat_model(bedrock: Any) -> None:
    with pytest.raises(bedrock.exceptions.ValidationException, match="embedding models only"):
        bedrock.invoke_model(modelId=HAIKU, body=b"{}")


def test_titan_v2_embeddings(bedrock: Any) -> None:
    response = bedrock.invoke_model(
        modelId="amazon.titan-embed-text-v2:0",
        body=json.dumps({"inputText": "hello world", "dimensions": 512}),
        contentType="application/json",
        accept="application/json",
    )
    body = json.loads(response["body"].read())
    assert len(body["embedding"]) == 512 and body["inputTextTokenCount"] == 3
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-bedrock-input-token-count"] == "3"
    assert int(headers["x-amzn-bedrock-invocation-latency"]) >= 1


@pytest.mark.lenient
def test_cohere_embeddings(bedrock: Any) -> None:
    response = bedrock.invoke_model(
        modelId="cohere.embed-multilingual-v3",
        body=json.dumps({"texts": ["a", "b"], "input_type": "search_document", "truncate": "END"}),
    )
    body = json.loads(response["body"].read())
    assert body["response_type"] == "embeddings_floats" and len(body["embeddings"]) == 2


def test_malformed_embedding_request(bedrock: Any) -> None:
    with pytest.raises(bedrock.exceptions.ValidationException) as caught:
        bedrock.invoke_model(modelId="amazon.titan-embed-text-v2:0", body=b'{"text": "a"}')
    assert caught.value.response["Error"]["Message"] == (
        "Malformed input request: #: extraneous key [text] is not permitted, "
        "please reformat your input and try again."
    )


def test_wrong_secret_is_refused(
    emulator_server: RunningEmulator, make_client: Callable[..., Any]
) -> None:
    client = make_client(secret="not-the-secret")
    with pytest.raises(ClientError) as caught:
        client.converse(modelId=HAIKU, messages=USER)
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert emulator_server.state.counts() == {}


def test_unknown_key_is_refused(make_client: Callable[..., Any]) -> None:
    client = make_client(key_id="AKIAOTHER", secret="x")
    with pytest.raises(ClientError) as caught:
        client.converse(modelId=HAIKU, messages=USER)
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"
