"""E2E: the OpenAI Agents SDK (Responses API by default) runs an agent with two function tools
and a handoff through the gateway, against the emulator."""

from __future__ import annotations

import agents
import openai
import pytest

from tests.e2e.conftest import KEY
from tests.support.servers import GatewayServer

ASK = "Please call get_weather, then get_time, then transfer_to_billing."


def _agents(gateway: GatewayServer, calls: list[str]) -> tuple[object, object]:
    client = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0)
    model = agents.OpenAIResponsesModel(model="tools", openai_client=client)

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        calls.append(f"get_weather:{city}")
        return f"sunny in {city}"

    @agents.function_tool
    def get_time(zone: str) -> str:
        """The time in a time zone."""
        calls.append(f"get_time:{zone}")
        return "12:00"

    billing = agents.Agent(name="billing", instructions="You handle billing.", model=model)
    front = agents.Agent(
        name="front",
        instructions="You answer questions and hand billing over.",
        model=model,
        tools=[get_weather, get_time],
        handoffs=[billing],
    )
    return front, billing


@pytest.mark.parametrize("streamed", [False, True])
async def test_agent_runs_two_tools_and_a_handoff(gateway: GatewayServer, streamed: bool) -> None:
    calls: list[str] = []
    front, billing = _agents(gateway, calls)
    config = agents.RunConfig(tracing_disabled=True)
    if streamed:
        run = agents.Runner.run_streamed(front, ASK, run_config=config)
        async for _event in run.stream_events():
            pass
        result = run
    else:
        result = await agents.Runner.run(front, ASK, run_config=config)
    assert calls == ["get_weather:city-value", "get_time:zone-value"]
    assert result.last_agent is billing
    kinds = [item.type for item in result.new_items]
    assert kinds.count("tool_call_item") == 2
    assert "handoff_call_item" in kinds and "handoff_output_item" in kinds
    call_ids = [
        item.raw_item.call_id
        for item in result.new_items
        if item.type in ("tool_call_item", "handoff_call_item")
    ]
    assert len(call_ids) == len(set(call_ids)) == 3
    assert "returned" in str(result.final_output)
