"""E2E: the shipped default policy — its routes answer, and OpenAI model names keep working."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from gateway.emulator.runner import RunningEmulator
from tests.support.servers import DEFAULT_POLICIES, GatewayServer, running_gateway

KEY = "sk-default-policy"
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def shipped(emulator: RunningEmulator) -> Iterator[GatewayServer]:
    with running_gateway(policies=DEFAULT_POLICIES, api_keys=KEY) as server:
        yield server


@pytest.fixture
def sdk(shipped: GatewayServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{shipped.url}/v1", api_key=KEY, max_retries=0)


@pytest.mark.parametrize("route", ["auto", "cheap", "fast", "safe"])
def test_every_shipped_chat_route_answers(sdk: openai.OpenAI, route: str) -> None:
    raw = sdk.chat.completions.with_raw_response.create(model=route, messages=HELLO)  # type: ignore[arg-type]
    assert raw.headers["x-gateway-route"] == route
    assert raw.parse().choices[0].message.content


def test_safe_route_only_uses_tier_three(sdk: openai.OpenAI, shipped: GatewayServer) -> None:
    raw = sdk.chat.completions.with_raw_response.create(model="safe", messages=HELLO)  # type: ignore[arg-type]
    model = shipped.state.policy.model_for_bedrock_id(raw.headers["x-gateway-model"])
    assert model is not None and model.safety_tier == 3


@pytest.mark.parametrize("name", ["gpt-4o", "gpt-4o-mini", "o3-mini"])
def test_openai_chat_model_names_go_to_auto(sdk: openai.OpenAI, name: str) -> None:
    raw = sdk.chat.completions.with_raw_response.create(model=name, messages=HELLO)  # type: ignore[arg-type]
    assert raw.headers["x-gateway-route"] == "auto"


def test_openai_embedding_model_names_go_to_embed(sdk: openai.OpenAI) -> None:
    raw = sdk.embeddings.with_raw_response.create(model="text-embedding-3-small", input="hi")
    assert raw.headers["x-gateway-route"] == "embed"
    assert len(raw.parse().data[0].embedding) == 1024


def test_models_can_be_retrieved_by_name_with_a_real_created(sdk: openai.OpenAI) -> None:
    import time

    from openai.types import Model

    auto = sdk.models.retrieve("auto")
    assert Model.model_validate(auto.model_dump()).id == "auto"
    listed = {m.id: m for m in sdk.models.list()}
    assert listed["auto"].created == auto.created
    # created: when the policy was loaded, this session (not 0).
    assert time.time() - 3600 < auto.created <= time.time()
    with pytest.raises(openai.NotFoundError) as info:
        sdk.models.retrieve("no-such-model")
    assert "no-such-model" in info.value.message
