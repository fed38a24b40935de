"""E2E: embeddings through the gateway — Titan v2 and Cohere v3, float and base64."""

from __future__ import annotations

import math

import httpx2 as httpx
import openai
import orjson

from tests.e2e.conftest import KEY
from tests.support.openai_wire import validate_embeddings
from tests.support.servers import GatewayServer


def test_sdk_default_base64(client: openai.OpenAI) -> None:
    raw = client.embeddings.with_raw_response.create(model="titan-embed-v2", input=["a", "b"])
    wire = orjson.loads(raw.http_response.content)
    assert all(isinstance(item["embedding"], str) for item in wire["data"])  # SDK asked base64
    validate_embeddings(wire)
    result = raw.parse()
    assert [d.index for d in result.data] == [0, 1]
    assert len(result.data[0].embedding) == 1024
    assert math.isclose(sum(x * x for x in result.data[0].embedding), 1.0, rel_tol=1e-3)
    assert result.usage.prompt_tokens > 0
    assert raw.headers["x-gateway-model"] == "amazon.titan-embed-text-v2:0"


def test_float_and_dimensions(gateway: GatewayServer) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/embeddings",
        json={"model": "embed", "input": "hello", "encoding_format": "float", "dimensions": 256},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    body = validate_embeddings(response.content)
    assert len(body.data[0].embedding) == 256


def test_same_text_same_vector_across_formats(client: openai.OpenAI) -> None:
    as_b64 = client.embeddings.create(model="titan-embed-v2", input="same")
    as_float = client.embeddings.create(
        model="titan-embed-v2", input="same", encoding_format="float"
    )
    assert all(
        math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7)
        for a, b in zip(as_b64.data[0].embedding, as_float.data[0].embedding, strict=True)
    )


def test_cohere_batches_of_96(client: openai.OpenAI) -> None:
    texts = [f"text {i}" for i in range(100)]
    result = client.embeddings.create(model="cohere-embed-english-v3", input=texts)
    assert len(result.data) == 100
    assert [d.index for d in result.data] == list(range(100))


def test_token_ids_refused(client: openai.OpenAI) -> None:
    try:
        client.embeddings.create(model="titan-embed-v2", input=[[1, 2, 3]])
    except openai.BadRequestError as exc:
        assert exc.param == "input"
    else:
        raise AssertionError("token-id input was accepted")


def test_cohere_refuses_other_dimensions(client: openai.OpenAI) -> None:
    try:
        client.embeddings.create(model="cohere-embed-english-v3", input="x", dimensions=256)
    except openai.BadRequestError as exc:
        assert exc.param == "dimensions"
    else:
        raise AssertionError("Cohere v3 accepted 256 dimensions")
