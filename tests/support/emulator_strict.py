"""Emulator: helpers of the strict-mode tests — rows by property, clients per region, and
the refusal boto3 raises."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from gateway.capabilities.lookup import invocation_for
from gateway.capabilities.model import ModelCapabilities
from gateway.capabilities.table import MODELS
from gateway.emulator.credentials import EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY

USER = [{"role": "user", "content": [{"text": "hello"}]}]
TOOLS = {
    "tools": [
        {
            "toolSpec": {
                "name": "get_weather",
                "inputSchema": {
                    "json": {"type": "object", "properties": {"city": {"type": "string"}}}
                },
            }
        }
    ]
}


def client(url: str, region: str, service: str = "bedrock-runtime") -> Any:
    """A real boto3 client signed with the emulator's test credentials for ``region``."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=EMULATOR_ACCESS_KEY_ID,
        aws_secret_access_key=EMULATOR_SECRET_ACCESS_KEY,
        config=Config(retries={"total_max_attempts": 1}),
    )


def rows(
    predicate: Callable[[ModelCapabilities], bool],
    table: Iterable[ModelCapabilities] = MODELS,
) -> list[Any]:
    """pytest params of the table's live Converse rows matching ``predicate`` (ids: base ids)."""
    return [
        pytest.param(row, id=row.base_id)
        for row in table
        if row.kind == "chat" and row.converse and row.lifecycle != "eol" and predicate(row)
    ]


def general_model(region: str = "us-east-1") -> str:
    """A live base id on demand in ``region`` with tools (streamed, any/tool choice), images and
    system prompts: the model of the emulator tests that are not about per-model rules."""
    for row in MODELS:
        if (
            row.kind == "chat"
            and row.lifecycle == "active"
            and row.eol_date is None
            and region in row.on_demand_regions
            and row.tools
            and row.streaming_tools
            and {"any", "tool"} <= row.tool_choice
            and row.images
            and row.system_prompt
        ):
            return row.base_id
    raise LookupError(f"the model table has no general-purpose model on demand in {region}")


def callable_id(row: ModelCapabilities, region: str) -> str:
    """The id that reaches ``row`` from ``region`` (base id on demand, else its profile)."""
    model_id = invocation_for(row.base_id, region, "global", caps=row).model_id
    assert model_id is not None, f"{row.base_id} is not offered in {region}"
    return model_id


def offered_in(row: ModelCapabilities, region: str) -> bool:
    return invocation_for(row.base_id, region, "global", caps=row).model_id is not None


def refusal(call: Callable[[], Any]) -> tuple[int, str, str]:
    """(HTTP status, error code, message) of the ClientError the call raises."""
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )
