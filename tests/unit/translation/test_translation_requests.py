"""OpenAI chat requests to Converse bodies: golden fixtures, error cases, images, estimates."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from gateway.errors import GatewayError, InvalidRequestError
from gateway.schemas import parse_chat_request
from gateway.schemas.parse import check_extras
from gateway.translation.openai_to_converse import (
    converse_body,
    image_urls,
    output_budget,
    prepare_conversation,
)
from tests.unit.translation.translation_checks import load_fixture, validate_converse

REQUESTS = load_fixture("requests.json")
ERRORS = load_fixture("errors.json")
SECRET = "SECRET-PROMPT"


def _body(case: dict[str, Any]) -> dict[str, Any]:
    options = dict(case.get("options", {}))
    if "guardrail" in options:
        options["guardrail"] = tuple(options["guardrail"])
    prepared = prepare_conversation(parse_chat_request(case["request"]))
    return converse_body(prepared, case["bedrock_id"], **options)


@pytest.mark.parametrize("case", REQUESTS, ids=[c["name"] for c in REQUESTS])
def test_request_fixture(case: dict[str, Any]) -> None:
    body = _body(case)
    assert body == case["expected"]
    validate_converse(body, case["bedrock_id"])


@pytest.mark.parametrize("case", ERRORS, ids=[c["name"] for c in ERRORS])
def test_error_fixture(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError) as info:
        req = parse_chat_request(case["request"])
        check_extras(req.extras, ())  # a gateway whose routes allow no extra field
        prepare_conversation(req)
    err: GatewayError = info.value
    assert err.status == case["status"]
    assert err.param == case["param"]
    assert case["message"] in err.message
    assert SECRET not in err.message  # no prompt text in errors
    assert err.to_body()["error"]["type"] == "invalid_request_error"


def test_prepared_is_reused_across_models() -> None:
    req = parse_chat_request(REQUESTS[4]["request"])
    prepared = prepare_conversation(req)
    for model in (
        "anthropic.claude-3-haiku-20240307-v1:0",
        "mistral.mistral-7b-instruct-v0:2",
        "meta.llama3-1-8b-instruct-v1:0",
        "amazon.nova-lite-v1:0",
    ):
        body = converse_body(prepared, model)
        validate_converse(body, model)
        assert body["messages"] is prepared.messages  # no copy per model


def test_feature_flags_and_prompt_estimate() -> None:
    prepared = prepare_conversation(parse_chat_request(REQUESTS[3]["request"]))
    assert prepared.uses_images and not prepared.uses_tools
    assert prepared.prompt_tokens == 2 * 1600 + 4  # "What is this?" = 13 chars
    tools = prepare_conversation(parse_chat_request(REQUESTS[4]["request"]))
    assert tools.uses_tools and not tools.uses_images
    plain = prepare_conversation(
        parse_chat_request({"model": "", "messages": [{"role": "user", "content": "x" * 9}]})
    )
    assert plain.prompt_tokens == 3 and not plain.uses_tools


def test_tool_schemas_count_in_estimate() -> None:
    base = {"model": "", "messages": [{"role": "user", "content": "hi"}]}
    tool = {
        "type": "function",
        "function": {
            "name": "f",
            "parameters": {"type": "object", "properties": {"x" * 400: {"type": "string"}}},
        },
    }
    small = prepare_conversation(parse_chat_request(base)).prompt_tokens
    big = prepare_conversation(parse_chat_request({**base, "tools": [tool]})).prompt_tokens
    assert big - small >= 100


def _url_request(url: str) -> dict[str, Any]:
    return {
        "model": "",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": url}},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            }
        ],
    }


def test_image_urls_fetched_by_the_io_layer() -> None:
    url = "https://example.com/cat.png"
    req = parse_chat_request(_url_request(url))
    assert image_urls(req) == [url]
    with pytest.raises(InvalidRequestError, match="not enabled"):
        prepare_conversation(req, images={url: ("png", b"\x89PNG")})
    with pytest.raises(InvalidRequestError, match="could not be fetched"):
        prepare_conversation(req, images={}, allow_image_urls=True)
    prepared = prepare_conversation(
        req, images={url: ("image/png", b"\x89PNG")}, allow_image_urls=True
    )
    block = prepared.messages[0]["content"][1]["image"]
    assert block == {"format": "png", "source": {"bytes": base64.b64encode(b"\x89PNG").decode()}}
    validate_converse(converse_body(prepared, "anthropic.claude-3-haiku-20240307-v1:0"))
    with pytest.raises(InvalidRequestError, match="png, jpeg") as info:
        prepare_conversation(req, images={url: ("tiff", b"x")}, allow_image_urls=True)
    assert info.value.param == "messages[0].content[1].image_url"


def test_too_many_and_too_large_images() -> None:
    part = {"type": "image_url", "image_url": {"url": "data:image/gif;base64,R0lGOD=="}}
    many = {"model": "", "messages": [{"role": "user", "content": [part] * 21}]}
    with pytest.raises(InvalidRequestError, match="at most 20") as info:
        prepare_conversation(parse_chat_request(many))
    assert info.value.param == "messages[0].content[20].image_url"
    big = base64.b64encode(b"\0" * 3_800_000).decode()
    large = {
        "model": "",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/webp;base64," + big}}
                ],
            }
        ],
    }
    with pytest.raises(InvalidRequestError, match=r"3\.75 MB"):
        prepare_conversation(parse_chat_request(large))


def test_body_is_independent_of_request_defaults() -> None:
    req = parse_chat_request({"model": "", "messages": [{"role": "user", "content": "hi"}]})
    body = converse_body(prepare_conversation(req), "amazon.titan-text-express-v1")
    # Always a maxTokens for a model the table knows: Titan's own default is only 512 tokens.
    assert body == {
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
        "inferenceConfig": {"maxTokens": 8192 - 2},  # the window less the prompt (+20%)
    }
    validate_converse(body, "amazon.titan-text-express-v1")


def test_system_is_folded_for_models_without_system_prompts() -> None:
    req = parse_chat_request(
        {
            "model": "",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hi"},
            ],
            "max_tokens": 10,
        }
    )
    prepared = prepare_conversation(req)
    titan = converse_body(prepared, "amazon.titan-text-express-v1")
    assert "system" not in titan
    assert titan["messages"][0]["content"] == [{"text": "Be brief."}, {"text": "hi"}]
    assert prepared.messages[0]["content"] == [{"text": "hi"}]  # the shared list is untouched
    claude = converse_body(prepared, "anthropic.claude-3-haiku-20240307-v1:0")
    assert claude["system"] == [{"text": "Be brief."}]
    validate_converse(titan, "amazon.titan-text-express-v1")


@pytest.mark.parametrize(
    ("prompt", "max_out", "window", "expected"),
    [
        (10, 4096, 200000, 4096),  # the model's maximum
        (1000, 2048, 8192, 2048),  # room 6992: the maximum is smaller
        (5000, 4096, 8192, 8192 - 6000),  # the window leaves less than the maximum
        (100, 4096, None, 4096),  # no window known
        (9000, 4096, 8192, 1),  # nothing left: at least 1 (Bedrock refuses 0)
    ],
)
def test_output_budget(prompt: int, max_out: int, window: int | None, expected: int) -> None:
    assert output_budget(prompt, max_out, window) == expected
