"""E2E: two gateway processes sharing one real Redis serve one Responses conversation — a
response stored by one is read and continued (streamed, with tools) on the other."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import redis as redis_sync

from gateway.emulator.runner import RunningEmulator
from tests.support.process import GatewayProcess
from tests.support.redis_server import RedisServer, running_redis

POLICY = Path(__file__).parent / "policies" / "redis.yaml"
KEY = "sk-redis-client"
TTL_S = 3600
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture(scope="module")
def replicas(
    emulator: RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RedisServer, list[openai.OpenAI]]]:
    with running_redis() as redis:
        env = {
            "GATEWAY_POLICIES": str(POLICY),
            "GATEWAY_API_KEYS": KEY,
            "GATEWAY_REDIS_URL": redis.url,
            "GATEWAY_RESPONSES_TTL_S": str(TTL_S),
        }
        logs = tmp_path_factory.mktemp("responses-replicas")
        procs = [GatewayProcess(env, log_path=logs / f"gw{i}.log") for i in range(2)]
        for proc in procs:
            proc.wait_ready()
        clients = [openai.OpenAI(base_url=f"{p.url}/v1", api_key=KEY, max_retries=0) for p in procs]
        yield redis, clients
        for proc in procs:
            proc.stop()


def test_a_tool_call_stored_by_one_replica_is_continued_streamed_on_the_other(
    replicas: tuple[RedisServer, list[openai.OpenAI]],
) -> None:
    _redis, (one, two) = replicas
    first = one.responses.create(model="haiku", input="call get_weather", tools=[WEATHER])
    call = next(item for item in first.output if item.type == "function_call")
    assert two.responses.retrieve(first.id).model_dump() == first.model_dump()
    with two.responses.stream(
        model="haiku",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "hail"}],
        tools=[WEATHER],  # type: ignore[list-item]
    ) as stream:
        second = stream.get_final_response()
    assert f"Tool {call.call_id} returned: hail" in second.output_text
    third = one.responses.create(model="haiku", input="and then?", previous_response_id=second.id)
    assert "You said: and then?" in third.output_text
    assert [i.type for i in one.responses.input_items.list(second.id).data] == [
        "function_call_output"
    ]


def test_stored_entries_are_compressed_with_the_configured_ttl(
    replicas: tuple[RedisServer, list[openai.OpenAI]],
) -> None:
    redis, (one, two) = replicas
    created = one.responses.create(model="haiku", input="keep me in redis")
    client = redis_sync.Redis.from_url(redis.url)
    [key] = [k for k in client.scan_iter("gw:resp:*") if k.decode().endswith(created.id)]
    assert 0 < client.ttl(key) <= TTL_S
    raw = client.get(key)
    assert isinstance(raw, bytes)
    assert b"keep me in redis" in zlib.decompress(raw)
    client.close()
    two.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        one.responses.retrieve(created.id)
