"""E2E: stored responses (``store``), their tenant isolation, and the refused fields."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import openai
import pytest
from openai.types.responses import ResponseItem
from pydantic import TypeAdapter

from gateway.emulator.runner import RunningEmulator
from tests.e2e.conftest import KEY, POLICY
from tests.support.responses_wire import validate_response
from tests.support.servers import GatewayServer, running_gateway

KIDS_KEY = "sk-e2e-kids"
_IMAGE = {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}
ITEM: TypeAdapter[ResponseItem] = TypeAdapter(ResponseItem)


@pytest.fixture
def kids(gateway: GatewayServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KIDS_KEY, max_retries=0)


def test_stored_response_is_retrieved_listed_and_deleted(client: openai.OpenAI) -> None:
    created = client.responses.create(
        model="haiku",
        input=[
            {"role": "user", "content": "remember me"},
            {"type": "message", "role": "assistant", "content": "I will"},
            {"role": "user", "content": [{"type": "input_text", "text": "and now?"}]},
        ],
    )
    fetched = client.responses.retrieve(created.id)
    assert fetched.model_dump() == created.model_dump()
    items = client.responses.input_items.list(created.id, order="asc")
    raw = [item.model_dump() for item in items.data]
    for item in raw:
        ITEM.validate_python(item)
    assert [item["role"] for item in raw] == ["user", "assistant", "user"]
    assert raw[2]["content"][0]["text"] == "and now?"
    newest_first = client.responses.input_items.list(created.id)
    assert [item.id for item in newest_first.data] == [item["id"] for item in raw][::-1]
    deleted = client.responses.with_raw_response.delete(created.id)
    assert deleted.http_response.json() == {
        "id": created.id,
        "object": "response.deleted",
        "deleted": True,
    }
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)


def test_previous_response_id_continues_the_conversation(client: openai.OpenAI) -> None:
    first = client.responses.create(model="haiku", input="first turn")
    second = client.responses.create(
        model="haiku", input="second turn", previous_response_id=first.id
    )
    assert "You said: second turn" in second.output_text
    assert second.previous_response_id == first.id
    # The continuation's own input items are only its new input.
    items = client.responses.input_items.list(second.id)
    assert len(items.data) == 1


def test_usage_grows_with_the_stored_conversation(client: openai.OpenAI) -> None:
    first = client.responses.create(model="haiku", input="x" * 400)
    alone = client.responses.create(model="haiku", input="next", store=False)
    chained = client.responses.create(
        model="haiku", input="next", previous_response_id=first.id, store=False
    )
    assert alone.usage is not None and chained.usage is not None
    assert chained.usage.input_tokens > alone.usage.input_tokens + 90


def test_store_false_leaves_nothing(client: openai.OpenAI) -> None:
    response = client.responses.create(model="haiku", input="forget me", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError) as err:
        client.responses.create(model="haiku", input="more", previous_response_id=response.id)
    assert err.value.body is not None
    assert err.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_stored_responses_are_visible_only_to_their_tenant(
    client: openai.OpenAI, kids: openai.OpenAI
) -> None:
    mine = client.responses.create(model="haiku", input="tenant private")
    with pytest.raises(openai.NotFoundError):
        kids.responses.retrieve(mine.id)
    with pytest.raises(openai.NotFoundError):
        kids.responses.input_items.list(mine.id)
    with pytest.raises(openai.NotFoundError):
        kids.responses.delete(mine.id)
    with pytest.raises(openai.NotFoundError):
        kids.responses.create(model="haiku", input="peek", previous_response_id=mine.id)
    assert client.responses.retrieve(mine.id).id == mine.id


def test_streamed_response_is_stored(client: openai.OpenAI) -> None:
    with client.responses.stream(model="haiku", input="stream and keep") as stream:
        final = stream.get_final_response()
    fetched = client.responses.retrieve(final.id)
    assert fetched.output_text == final.output_text
    assert fetched.status == "completed"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}, "tools[0].type"),
        ({"tools": [{"type": "code_interpreter", "container": {"type": "auto"}}]}, "tools[0].type"),
        ({"background": True}, "background"),
        ({"truncation": "auto"}, "truncation"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"include": ["file_search_call.results"]}, "include"),
        ({"tool_choice": {"type": "web_search_preview"}}, "tool_choice.type"),
        (
            {"tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": []}},
            "tool_choice.type",
        ),
        ({"tools": [{"type": "mcp", "server_label": "x"}]}, "tools[0].type"),
        ({"tools": [{"type": "image_generation"}]}, "tools[0].type"),
        ({"max_tool_calls": 2}, "max_tool_calls"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"context_management": [{"type": "compaction"}]}, "context_management"),
        ({"prompt_cache_retention": "24h"}, "prompt_cache_retention"),
        ({"no_such_field": 1}, "no_such_field"),
        ({"temperature": 3}, "temperature"),
    ],
)
def test_refused_fields_are_named(
    gateway: GatewayServer, extra: dict[str, Any], param: str
) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/responses",
        json={"model": "haiku", "input": "hi"} | extra,
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert param.split("[")[0].split(".")[0] in error["message"]


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ({"type": "item_reference", "id": "msg_1"}, "input[0].type"),
        (
            {"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]},
            "input[0].content[0].type",
        ),
        (
            {"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]},
            "input[0].content[0].file_id",
        ),
        ({"role": "system", "content": [_IMAGE]}, "input[0].content[0].type"),
        (
            {"type": "function_call_output", "call_id": "c", "output": [_IMAGE]},
            "input[0].output[0].type",
        ),
    ],
)
def test_refused_input_items_are_named(
    gateway: GatewayServer, item: dict[str, Any], param: str
) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/responses",
        json={"model": "haiku", "input": [item]},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_unknown_response_id_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client.responses.retrieve("resp_does_not_exist")
    assert "resp_does_not_exist" in str(err.value)


def test_responses_need_a_key(gateway: GatewayServer) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/responses", json={"model": "haiku", "input": "hi"}, timeout=30
    )
    assert response.status_code == 401
    created = validate_response(
        httpx.post(
            f"{gateway.url}/v1/responses",
            json={"model": "haiku", "input": "hi"},
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=30,
        ).content
    )
    assert httpx.get(f"{gateway.url}/v1/responses/{created.id}", timeout=30).status_code == 401


def test_legacy_completions_say_which_endpoint_to_use(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client.completions.create(model="haiku", prompt="hi")
    message = str(err.value)
    assert "/v1/chat/completions" in message and "/v1/responses" in message


def test_input_items_are_paged(client: openai.OpenAI, gateway: GatewayServer) -> None:
    texts = [f"part {i}" for i in range(5)]
    created = client.responses.create(
        model="haiku", input=[{"role": "user", "content": t} for t in texts]
    )
    page = client.responses.input_items.list(created.id, order="asc", limit=2)
    assert page.has_more is True
    ids = [item.id for item in page.data]
    rest = client.responses.input_items.list(created.id, order="asc", after=ids[-1])
    assert rest.has_more is False
    every = [*page.data, *rest.data]
    assert [item.content[0].text for item in every] == texts  # type: ignore[union-attr]
    for query, param in (("limit=0", "limit"), ("limit=x", "limit"), ("order=up", "order")):
        response = httpx.get(
            f"{gateway.url}/v1/responses/{created.id}/input_items?{query}",
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=30,
        )
        assert response.status_code == 400
        assert response.json()["error"]["param"] == param


def test_a_continued_conversation_is_held_to_the_message_cap(emulator: RunningEmulator) -> None:
    """Each request is under GATEWAY_MAX_MESSAGES, the conversation they make is not."""
    with running_gateway(policies=POLICY, api_keys=KEY, max_messages=4) as small:
        sdk = openai.OpenAI(base_url=f"{small.url}/v1", api_key=KEY, max_retries=0)
        turns = [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}]
        first = sdk.responses.create(model="haiku", input=turns)  # type: ignore[arg-type]
        with pytest.raises(openai.BadRequestError) as info:
            sdk.responses.create(
                model="haiku",
                input=turns,  # type: ignore[arg-type]
                previous_response_id=first.id,
            )
    assert info.value.body is not None
    assert info.value.body["param"] == "previous_response_id"  # type: ignore[index]
    assert "at most 4" in info.value.body["message"]  # type: ignore[index]
