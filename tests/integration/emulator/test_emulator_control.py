"""Emulator: the /_emulator control API over HTTP, and the call counts."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from gateway.emulator.server import create_emulator_app
from tests.support.emulator_strict import general_model

MODEL = general_model()  # a live model by property: the table retires ids over time
USER = [{"role": "user", "content": [{"text": "hi"}]}]


def test_health(control: Any) -> None:
    assert control("GET", "/health") == (200, {"status": "ok"})


@pytest.mark.parametrize("path_id", [MODEL, MODEL.replace(":", "%3A")])
def test_fault_over_http(control: Any, bedrock: Any, path_id: str) -> None:
    status, body = control("PUT", f"/faults/{path_id}", {"mode": "throttle", "times": 1})
    assert status == 200 and body["model_id"] == MODEL
    assert control("GET", "/faults")[1]["faults"][MODEL]["remaining"] == 1
    with pytest.raises(bedrock.exceptions.ThrottlingException):
        bedrock.converse(modelId=MODEL, messages=USER)
    bedrock.converse(modelId=MODEL, messages=USER)


def test_delete_faults(control: Any, bedrock: Any) -> None:
    control("PUT", f"/faults/{MODEL}", {"mode": "internal"})
    control("PUT", "/faults/*", {"mode": "internal"})
    assert control("DELETE", f"/faults/{MODEL}")[0] == 200
    assert list(control("GET", "/faults")[1]["faults"]) == ["*"]
    assert control("DELETE", "/faults")[0] == 200
    bedrock.converse(modelId=MODEL, messages=USER)


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "explode"},
        {"times": 1},
        {"mode": "throttle", "oops": 1},
        {"mode": "slow", "delay_ms": "x"},
    ],
)
def test_bad_fault_requests(control: Any, body: dict[str, Any]) -> None:
    status, answer = control("PUT", f"/faults/{MODEL}", body)
    assert status == 400 and answer["message"]


def test_behaviour_over_http(control: Any, bedrock: Any) -> None:
    assert control("PUT", f"/behaviour/{MODEL}", {"reply": "canned", "chunks": 2})[0] == 200
    response = bedrock.converse(modelId=MODEL, messages=USER)
    assert response["output"]["message"]["content"] == [{"text": "canned"}]
    assert control("DELETE", "/behaviour")[0] == 200
    response = bedrock.converse(modelId=MODEL, messages=USER)
    assert response["output"]["message"]["content"][0]["text"].startswith("Hello from")


def test_calls_and_counts(control: Any, bedrock: Any) -> None:
    bedrock.converse(modelId=MODEL, messages=USER)
    list(bedrock.converse_stream(modelId=MODEL, messages=USER)["stream"])
    bedrock.invoke_model(modelId="amazon.titan-embed-text-v2:0", body=b'{"inputText": "a"}')
    control("PUT", f"/faults/{MODEL}", {"mode": "throttle", "times": 1})
    with pytest.raises(bedrock.exceptions.ThrottlingException):
        bedrock.converse(modelId=MODEL, messages=USER)
    status, body = control("GET", "/calls")
    assert status == 200
    assert body["counts"] == {
        MODEL: {"converse": 2, "converse-stream": 1, "invoke": 0},
        "amazon.titan-embed-text-v2:0": {"converse": 0, "converse-stream": 0, "invoke": 1},
    }
    assert [(c["operation"], c["status"]) for c in body["calls"]] == [
        ("converse", 200),
        ("converse-stream", 200),
        ("invoke", 200),
        ("converse", 429),
    ]
    assert all(c["model_id"] and c["ts"] > 0 for c in body["calls"])
    assert control("DELETE", "/calls")[0] == 200
    assert control("GET", "/calls")[1] == {"counts": {}, "calls": []}


async def test_bearer_and_custom_credentials() -> None:
    app = create_emulator_app(credentials={"AKIAOTHER": "other"}, bearer_tokens=["tok-1"])
    async with TestServer(app) as server, ClientSession() as session:
        url = str(server.make_url(f"/model/{MODEL.replace(':', '%3A')}/converse"))
        body = b'{"messages": [{"role": "user", "content": [{"text": "hi"}]}]}'
        async with session.post(url, data=body, headers={"Authorization": "Bearer tok-1"}) as ok:
            assert ok.status == 200
            assert (await ok.json())["stopReason"] == "end_turn"
        async with session.post(url, data=body, headers={"Authorization": "Bearer nope"}) as bad:
            assert bad.status == 403
            assert bad.headers["x-amzn-ErrorType"].startswith("UnrecognizedClientException:")
        async with session.post(url, data=body) as missing:
            assert missing.status == 403
            assert await missing.json() == {"message": "Missing Authentication Token"}
