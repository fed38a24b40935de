"""Cost levers in Converse bodies (cache points, serviceTier, performanceConfig, extra fields,
documents), table-driven; every body is checked by botocore's ParamValidator."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from gateway.capabilities import PromptCaching
from gateway.errors import InvalidRequestError
from gateway.schemas import parse_chat_request
from gateway.translation.caching import CACHE_POINT, add_cache_points
from gateway.translation.levers import Levers
from gateway.translation.openai_to_converse import converse_body, prepare_conversation
from tests.unit.translation.translation_checks import validate_converse

SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"  # caching: 1024 tokens, 4 points
HAIKU3 = "anthropic.claude-3-haiku-20240307-v1:0"  # no prompt caching
LONG = "x" * 4400  # 1100 tokens (characters / 4)
TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "d" * 4400,
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
}
PDF = base64.b64encode(b"%PDF-1.7 test").decode()


def _body(request: dict[str, Any], model: str = SONNET, **levers: Any) -> dict[str, Any]:
    req = parse_chat_request({"model": "m", **request})
    body = converse_body(prepare_conversation(req), model, levers=Levers(**levers))
    validate_converse(body, model)
    return body


def _points(body: dict[str, Any]) -> list[str]:
    """Where the cache points stand: tools, system, messages[i]."""
    where = []
    if CACHE_POINT in (body.get("toolConfig") or {}).get("tools", []):
        where.append("tools")
    if CACHE_POINT in body.get("system", []):
        where.append("system")
    for i, message in enumerate(body["messages"]):
        if CACHE_POINT in message["content"]:
            where.append(f"messages[{i}]")
    return where


def _conversation(*turns: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, text in enumerate(turns):
        out.append({"role": "assistant" if i % 2 else "user", "content": text})
    return out


CACHE_CASES = [
    (
        "long system",
        {"messages": [{"role": "system", "content": LONG}, *_conversation("hi")]},
        SONNET,
        ["system"],
    ),
    (
        "short system: none",
        {"messages": [{"role": "system", "content": "brief"}, *_conversation("hi")]},
        SONNET,
        [],
    ),
    (
        "model without caching",
        {"messages": [{"role": "system", "content": LONG}, *_conversation("hi")]},
        HAIKU3,
        [],
    ),
    (
        "tools then system",
        {"tools": [TOOL], "messages": [{"role": "system", "content": LONG}, *_conversation("hi")]},
        SONNET,
        ["tools", "system"],
    ),
    (
        "growing conversation: previous and last user turns",
        {"messages": _conversation(LONG, "ok", LONG, "ok", LONG)},
        SONNET,
        ["messages[2]", "messages[4]"],
    ),
    (
        "short growing turns are merged into the next point",
        {"messages": [{"role": "system", "content": LONG}, *_conversation("a", "b", "c")]},
        SONNET,
        ["system"],
    ),
    (
        "at most four points",
        {
            "tools": [TOOL],
            "messages": [{"role": "system", "content": LONG}, *_conversation(LONG, "ok", LONG)],
        },
        SONNET,
        ["tools", "system", "messages[0]", "messages[2]"],
    ),
]


@pytest.mark.parametrize(
    ("name", "request_", "model", "expected"), CACHE_CASES, ids=[c[0] for c in CACHE_CASES]
)
def test_cache_points(name: str, request_: dict[str, Any], model: str, expected: list[str]) -> None:
    assert _points(_body(request_, model, prompt_cache=True)) == expected, name


def test_prompt_cache_off_places_none() -> None:
    request = {"messages": [{"role": "system", "content": LONG}, *_conversation("hi")]}
    assert _points(_body(request, prompt_cache=False)) == []


def test_cache_points_leave_the_prepared_conversation_untouched() -> None:
    req = parse_chat_request({"model": "m", "messages": _conversation(LONG)})
    prepared = prepare_conversation(req)
    converse_body(prepared, SONNET, levers=Levers(prompt_cache=True))
    assert CACHE_POINT not in prepared.messages[0]["content"]


@pytest.mark.parametrize(
    ("caching", "expected"),
    [
        (PromptCaching(min_tokens=1024, max_points=1), 1),
        (PromptCaching(min_tokens=1024, max_points=4, fields=("system",)), 1),
        (PromptCaching(min_tokens=5000, max_points=4), 0),
    ],
)
def test_add_cache_points_limits(caching: PromptCaching, expected: int) -> None:
    body = {
        "system": [{"text": LONG}],
        "messages": [{"role": "user", "content": [{"text": LONG}]}],
    }
    assert add_cache_points(body, caching) == expected


LEVER_CASES = [
    ("flex tier", {"service_tier": "flex"}, {"serviceTier": {"type": "flex"}}),
    ("priority tier", {"service_tier": "priority"}, {"serviceTier": {"type": "priority"}}),
    (
        "latency optimized",
        {"latency_optimized": True},
        {"performanceConfig": {"latency": "optimized"}},
    ),
    ("extra field", {"extra_fields": {"top_k": 5}}, {"additionalModelRequestFields": {"top_k": 5}}),
    ("none", {}, {}),
]


@pytest.mark.parametrize(
    ("name", "levers", "members"), LEVER_CASES, ids=[c[0] for c in LEVER_CASES]
)
def test_levers_members(name: str, levers: dict[str, Any], members: dict[str, Any]) -> None:
    body = _body({"messages": _conversation("hi")}, **levers)
    for key in ("serviceTier", "performanceConfig", "additionalModelRequestFields"):
        assert body.get(key) == members.get(key), (name, key)


def test_gateway_thinking_wins_over_a_client_field_of_the_same_name() -> None:
    body = _body(
        {"messages": _conversation("hi"), "reasoning_effort": "low", "max_tokens": 4000},
        extra_fields={"top_k": 3, "thinking": {"type": "disabled"}},
    )
    fields = body["additionalModelRequestFields"]
    assert fields["top_k"] == 3
    assert fields["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def _file(name: str | None = "Report 2024.pdf", data: str = PDF) -> dict[str, Any]:
    spec: dict[str, Any] = {"file_data": data}
    if name is not None:
        spec["filename"] = name
    return {"type": "file", "file": spec}


DOCUMENT_CASES = [
    ("pdf by name", [_file()], {"format": "pdf", "name": "Report 2024"}),
    (
        "data URL mime",
        [_file("notes", "data:text/csv;base64," + base64.b64encode(b"a,b").decode())],
        {"format": "csv", "name": "notes"},
    ),
    ("bytes sniffed", [_file(None)], {"format": "pdf", "name": "document-1"}),
    (
        "name reduced",
        [_file("a__b  c!.md", base64.b64encode(b"# t").decode())],
        {"format": "md", "name": "a-b c-"},
    ),
]


@pytest.mark.parametrize(
    ("name", "parts", "doc"), DOCUMENT_CASES, ids=[c[0] for c in DOCUMENT_CASES]
)
def test_documents(name: str, parts: list[dict[str, Any]], doc: dict[str, str]) -> None:
    content = [{"type": "text", "text": "Summarise"}, *parts]
    body = _body({"messages": [{"role": "user", "content": content}]}, HAIKU3)
    block = body["messages"][0]["content"][1]["document"]
    assert {"format": block["format"], "name": block["name"]} == doc, name


def test_document_only_turn_gets_a_text_block_and_unique_names() -> None:
    body = _body(
        {"messages": [{"role": "user", "content": [_file("a.pdf"), _file("a.pdf")]}]}, HAIKU3
    )
    content = body["messages"][0]["content"]
    assert [b["document"]["name"] for b in content if "document" in b] == ["a", "a (2)"]
    assert content[-1] == {"text": "[document: a, a (2)]"}


BAD_DOCUMENTS = [
    (
        "six documents",
        [_file(f"d{i}.pdf") for i in range(6)],
        "messages[0].content[5]",
        "at most 5",
    ),
    (
        "unknown type",
        [_file("x.bin", base64.b64encode(b"\x00").decode())],
        "messages[0].content[0]",
        "unsupported document type",
    ),
    (
        "bad base64",
        [_file(data="%%%")],
        "messages[0].content[0].file.file_data",
        "not valid base64",
    ),
    (
        "too large",
        [_file(data=base64.b64encode(b"%PDF" + b"0" * 4_500_000).decode())],
        "messages[0].content[0].file.file_data",
        "4.5 MB",
    ),
    (
        "no file_data",
        [{"type": "file", "file": {"filename": "a.pdf"}}],
        "messages[0].content[0].file",
        "file_data",
    ),
    (
        "file_id",
        [{"type": "file", "file": {"file_id": "file-abc"}}],
        "messages[0].content[0].file.file_id",
        "uploaded files",
    ),
]


@pytest.mark.parametrize(
    ("name", "parts", "param", "text"), BAD_DOCUMENTS, ids=[c[0] for c in BAD_DOCUMENTS]
)
def test_bad_documents(name: str, parts: list[dict[str, Any]], param: str, text: str) -> None:
    req = parse_chat_request({"model": "m", "messages": [{"role": "user", "content": parts}]})
    with pytest.raises(InvalidRequestError) as info:
        prepare_conversation(req)
    assert info.value.param == param, name
    assert text in info.value.message
    assert info.value.status == 400
