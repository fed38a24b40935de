"""Property: any valid OpenAI conversation is either refused with a 400 or becomes a valid body."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import InvalidRequestError
from gateway.schemas import parse_chat_request
from gateway.translation.openai_to_converse import converse_body, prepare_conversation
from tests.unit.translation.translation_checks import validate_converse

MODELS = [
    "anthropic.claude-3-haiku-20240307-v1:0",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "amazon.nova-lite-v1:0",
    "meta.llama3-1-8b-instruct-v1:0",
    "mistral.mistral-large-2407-v1:0",
]
TEXTS = st.sampled_from(["", " ", "\n\t", "hello", "  padded  ", '{"a": 1}', "[1]", "ünï"])
IDS = st.sampled_from(["call_1", "call_2", "call 3", "x" * 70, "tooluse_A"])
NAMES = st.sampled_from(["get_weather", "get_time", "lookup"])
ARGS = st.sampled_from(["", "{}", '{"city": "Paris"}'])


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    role = draw(st.sampled_from(["system", "developer", "user", "assistant", "tool"]))
    if role in ("system", "developer"):
        return {"role": role, "content": draw(TEXTS)}
    if role == "user":
        parts = draw(st.lists(TEXTS, max_size=3))
        content: Any = (
            draw(TEXTS) if draw(st.booleans()) else [{"type": "text", "text": t} for t in parts]
        )
        return {"role": "user", "content": content}
    if role == "tool":
        return {"role": "tool", "tool_call_id": draw(IDS), "content": draw(TEXTS)}
    msg: dict[str, Any] = {"role": "assistant", "content": draw(st.none() | TEXTS)}
    calls = draw(st.lists(st.tuples(IDS, NAMES, ARGS), max_size=3, unique_by=lambda c: c[0]))
    if calls:
        msg["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
            for i, n, a in calls
        ]
    return msg


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    req: dict[str, Any] = {
        "model": "",
        "messages": draw(st.lists(messages(), min_size=1, max_size=8)),
    }
    if draw(st.booleans()):
        req["tools"] = [{"type": "function", "function": {"name": "get_weather"}}]
        req["tool_choice"] = draw(st.sampled_from(["none", "auto", "required"]))
    if draw(st.booleans()):
        req["temperature"] = draw(st.floats(0, 2))
        req["top_p"] = draw(st.floats(0, 1))
    return req


def _structured(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A conversation that follows the tool protocol, so valid bodies are actually produced."""
    out: list[dict[str, Any]] = [{"role": "user", "content": "start"}]
    for turn in range(draw(st.integers(0, 4))):
        ids = [f"call_{turn}_{k}" for k in range(draw(st.integers(0, 2)))]
        msg: dict[str, Any] = {"role": "assistant", "content": draw(st.none() | TEXTS)}
        if ids:
            msg["tool_calls"] = [
                {
                    "id": i,
                    "type": "function",
                    "function": {"name": draw(NAMES), "arguments": draw(ARGS)},
                }
                for i in ids
            ]
        out.append(msg)
        for i in draw(st.permutations(ids)):
            out.append({"role": "tool", "tool_call_id": i, "content": draw(TEXTS)})
        if draw(st.booleans()) or not ids:
            out.append({"role": "user", "content": draw(TEXTS)})
    return out


@st.composite
def protocol_requests(draw: st.DrawFn) -> dict[str, Any]:
    req = draw(requests())
    req["messages"] = _structured(draw)
    return req


def _check(req: dict[str, Any], model: str) -> bool:
    try:
        prepared = prepare_conversation(parse_chat_request(req))
    except InvalidRequestError as err:
        assert err.status == 400 and err.param
        return False
    validate_converse(converse_body(prepared, model, default_max_tokens=512), model)
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests(), st.sampled_from(MODELS))
def test_any_conversation_is_refused_or_valid(req: dict[str, Any], model: str) -> None:
    _check(req, model)


@settings(max_examples=300, deadline=None)
@given(protocol_requests(), st.sampled_from(MODELS))
def test_tool_protocol_conversations_are_valid(req: dict[str, Any], model: str) -> None:
    assert _check(req, model)
