"""Embeddings: Titan and Cohere InvokeModel bodies, responses, OpenAI list (float and base64)."""

from __future__ import annotations

import pytest
from openai.types import CreateEmbeddingResponse

from gateway.errors import InvalidRequestError
from gateway.translation.embeddings import (
    cohere_bodies,
    embedding_family,
    embedding_response,
    estimate_tokens,
    parse_cohere,
    parse_titan,
    titan_body,
)
from tests.unit.translation.translation_checks import b64_floats


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("amazon.titan-embed-text-v2:0", "titan-v2"),
        ("us.amazon.titan-embed-text-v2:0", "titan-v2"),
        ("amazon.titan-embed-text-v1", "titan-v1"),
        ("amazon.titan-embed-g1-text-02", "titan-v1"),
        ("cohere.embed-english-v3", "cohere-v3"),
        ("cohere.embed-multilingual-v3", "cohere-v3"),
        ("arn:aws:bedrock:us-east-1::foundation-model/cohere.embed-english-v3", "cohere-v3"),
    ],
)
def test_embedding_family(model: str, family: str) -> None:
    assert embedding_family(model) == family


def test_unknown_embedding_model() -> None:
    with pytest.raises(InvalidRequestError) as info:
        embedding_family("anthropic.claude-3-haiku-20240307-v1:0")
    assert info.value.param == "model"
    assert info.value.code == "model_not_found"


def test_titan_bodies() -> None:
    assert titan_body("hi", dimensions=None) == {
        "inputText": "hi",
        "normalize": True,
        "embeddingTypes": ["float"],
    }
    assert titan_body("hi", dimensions=256, normalize=False)["dimensions"] == 256
    assert titan_body("hi", dimensions=None, family="titan-v1") == {"inputText": "hi"}
    for bad, family in ((300, "titan-v2"), (1024, "titan-v1")):
        with pytest.raises(InvalidRequestError) as info:
            titan_body("hi", dimensions=bad, family=family)
        assert info.value.param == "dimensions"


def test_cohere_batches_of_96() -> None:
    texts = [f"t{i}" for i in range(200)]
    bodies = cohere_bodies(texts)
    assert [len(b["texts"]) for b in bodies] == [96, 96, 8]
    assert bodies[0]["input_type"] == "search_document" and bodies[0]["truncate"] == "END"
    assert [t for b in bodies for t in b["texts"]] == texts
    assert cohere_bodies(["q"], input_type="search_query")[0]["input_type"] == "search_query"
    with pytest.raises(InvalidRequestError):
        cohere_bodies(["q"], dimensions=512)


def test_parse_responses() -> None:
    assert parse_titan({"embedding": [0.5, 0.25], "inputTextTokenCount": 3}) == ([0.5, 0.25], 3)
    by_type = {"embeddingsByType": {"float": [1.0]}, "inputTextTokenCount": 1}
    assert parse_titan(by_type) == ([1.0], 1)
    floats = {"embeddings": [[0.1], [0.2]], "id": "x", "response_type": "embeddings_floats"}
    assert parse_cohere(floats) == [[0.1], [0.2]]
    typed = {"embeddings": {"float": [[0.3]]}, "response_type": "embeddings_by_type"}
    assert parse_cohere(typed) == [[0.3]]
    assert estimate_tokens(["abcde", "a"]) == 3


@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_embedding_response(encoding: str) -> None:
    vectors = [[0.5, -1.25, 3.0], [0.0, 0.125, -0.5]]
    out = embedding_response(
        vectors, model="titan-embed-v2", prompt_tokens=7, encoding_format=encoding
    )
    decoded = []
    for item, vector in zip(out["data"], vectors, strict=True):
        got = b64_floats(item["embedding"]) if encoding == "base64" else item["embedding"]
        assert got == vector  # these values are exact in float32
        decoded.append({**item, "embedding": got})
    parsed = CreateEmbeddingResponse.model_validate({**out, "data": decoded})
    assert parsed.usage.prompt_tokens == 7 and parsed.usage.total_tokens == 7
    assert [d.index for d in parsed.data] == [0, 1]


def test_sdk_decodes_base64_by_default() -> None:
    import httpx2
    import openai
    import orjson

    vectors = [[0.5, -1.25, 3.0]]

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent = orjson.loads(request.content)
        body = embedding_response(
            vectors,
            model="e",
            prompt_tokens=1,
            encoding_format=sent.get("encoding_format", "float"),
        )
        return httpx2.Response(
            200, content=orjson.dumps(body), headers={"content-type": "application/json"}
        )

    client = openai.OpenAI(
        api_key="k",
        base_url="http://gw/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    result = client.embeddings.create(model="e", input="hi")  # the SDK asks for base64
    assert result.data[0].embedding == vectors[0]
