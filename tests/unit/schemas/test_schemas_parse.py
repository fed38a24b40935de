"""Request parsing at the HTTP edge: OpenAI-like 400s, the support policy, deprecated fields."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import InvalidRequestError, UnsupportedParameterError
from gateway.schemas import (
    IGNORED_FIELDS,
    parse_chat_request,
    parse_embedding_request,
)
from gateway.schemas.chat import NamedToolChoice

BASE: dict[str, Any] = {"model": "", "messages": [{"role": "user", "content": "hi"}]}


def test_minimal_request() -> None:
    req = parse_chat_request(BASE)
    assert req.model == "" and req.stream is False and not req.include_usage
    assert req.max_output_tokens is None


def test_ignored_fields_are_accepted() -> None:
    extra = {
        "user": "u1",
        "metadata": {"k": "v"},
        "store": True,
        "service_tier": "auto",
        "safety_identifier": "s",
        "prompt_cache_key": "p",
        "parallel_tool_calls": False,
        "verbosity": "low",
        "seed": 7,
        "n": 1,
        "logprobs": False,
        "top_logprobs": 0,
        "frequency_penalty": 0,
        "presence_penalty": 0.0,
        "logit_bias": {},
        "modalities": ["text"],
        "stream": True,
        "stream_options": {"include_usage": True, "include_obfuscation": False},
    }
    req = parse_chat_request({**BASE, **extra})
    assert req.seed == 7 and req.include_usage
    for name in ("user", "metadata", "seed", "stream_options.include_obfuscation"):
        assert name in IGNORED_FIELDS


def test_max_completion_tokens_wins() -> None:
    assert parse_chat_request({**BASE, "max_tokens": 5}).max_output_tokens == 5
    req = parse_chat_request({**BASE, "max_tokens": 5, "max_completion_tokens": 9})
    assert req.max_output_tokens == 9


def test_deprecated_functions_map_to_tools() -> None:
    req = parse_chat_request(
        {**BASE, "functions": [{"name": "f", "parameters": {}}], "function_call": {"name": "f"}}
    )
    assert req.tools is not None and req.tools[0].function.name == "f"
    assert isinstance(req.tool_choice, NamedToolChoice) and req.tool_choice.function.name == "f"
    auto = parse_chat_request({**BASE, "functions": [{"name": "f"}], "function_call": "auto"})
    assert auto.tool_choice == "auto"


def test_stop_string_may_be_long() -> None:
    assert (
        parse_chat_request({**BASE, "stop": "a long stop sequence"}).stop == "a long stop sequence"
    )


def test_response_format_schema_alias() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    req = parse_chat_request({**BASE, "response_format": fmt})
    assert req.response_format is not None
    assert req.response_format.json_schema.schema_ == {"type": "object"}  # type: ignore[union-attr]


def test_unsupported_is_its_own_class_and_code() -> None:
    with pytest.raises(UnsupportedParameterError) as info:
        parse_chat_request({**BASE, "n": 3})
    assert info.value.code == "unsupported_parameter" and info.value.status == 400


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({"model": "e", "input": "hi", "dimensions": 0}, "dimensions", "Invalid value"),
        ({"model": "e", "input": [1, 2, 3]}, "input", "token-id inputs are not supported"),
        ({"model": "e", "input": [[1, 2], [3]]}, "input", "token-id inputs are not supported"),
        ({"model": "e", "input": []}, "input", "Invalid"),
        ({"model": "e", "input": ["a"] * 2049}, "input", "Invalid"),
        ({"model": "e", "input": ""}, "input", "empty strings"),
        ({"model": "e", "input": "hi", "encoding_format": "int8"}, "encoding_format", "Invalid"),
        ({"model": "e"}, "input", "Missing required parameter: 'input'."),
        ({"model": "e", "input": "x", "foo": 1}, "foo", "Unrecognized request argument"),
    ],
)
def test_embedding_errors(body: dict[str, Any], param: str, message: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_embedding_request(body)
    assert info.value.param == param
    assert message in info.value.message


def test_embedding_request() -> None:
    req = parse_embedding_request(
        {
            "model": "e",
            "input": ["a", "b"],
            "encoding_format": "base64",
            "dimensions": 256,
            "user": "u",
        }
    )
    assert req.texts == ["a", "b"] and req.encoding_format == "base64"
    assert parse_embedding_request({"model": "e", "input": "x"}).texts == ["x"]
    with pytest.raises(InvalidRequestError, match="JSON object"):
        parse_embedding_request(["x"])


@pytest.mark.parametrize(
    ("extra", "param", "expected"),
    [
        ({"max_tokens": "5"}, "max_tokens", "expected an integer, but got a string instead"),
        ({"max_tokens": True}, "max_tokens", "expected an integer, but got a boolean instead"),
        ({"max_completion_tokens": 5.5}, "max_completion_tokens", "expected an integer"),
        ({"temperature": "0.5"}, "temperature", "expected a number, but got a string instead"),
        ({"top_p": True}, "top_p", "expected a number, but got a boolean instead"),
        ({"stream": "true"}, "stream", "expected a boolean, but got a string instead"),
        ({"stream": 1}, "stream", "expected a boolean, but got an integer instead"),
        ({"seed": "3"}, "seed", "expected an integer, but got a string instead"),
    ],
)
def test_json_types_are_strict_as_on_openai(
    extra: dict[str, Any], param: str, expected: str
) -> None:
    """OpenAI refuses a string or a boolean where a number belongs; so does the gateway."""
    with pytest.raises(InvalidRequestError) as info:
        parse_chat_request(BASE | extra)
    assert info.value.param == param and info.value.status == 400
    assert expected in info.value.message


@pytest.mark.parametrize("extra", [{"temperature": 1}, {"max_tokens": 5}, {"stream": False}])
def test_json_numbers_and_booleans_still_parse(extra: dict[str, Any]) -> None:
    parse_chat_request(BASE | extra)


def test_embedding_dimensions_are_strict() -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_embedding_request({"model": "e", "input": "x", "dimensions": "256"})
    assert info.value.param == "dimensions"


_NOT_A_NUMBER = st.one_of(
    st.booleans(), st.text(max_size=8), st.lists(st.integers(), max_size=2), st.none()
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["max_tokens", "max_completion_tokens", "seed", "temperature", "top_p"]),
    _NOT_A_NUMBER,
)
def test_any_non_number_for_a_number_is_a_400_naming_it(field: str, value: object) -> None:
    """Never coerced: a boolean, a string or an array where a number belongs is refused with
    the field named (null means "not set" and is accepted, as on OpenAI)."""
    if value is None:
        parse_chat_request(BASE | {field: value})
        return
    with pytest.raises(InvalidRequestError) as info:
        parse_chat_request(BASE | {field: value})
    assert info.value.param == field
