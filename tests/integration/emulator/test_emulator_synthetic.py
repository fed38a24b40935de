"""Emulator: strict refusals the package table may not have a row for today (end of life,
exclusive sampling, no streaming), on an emulator serving synthetic rows, plus the control
plane's listings of those rows through boto3's real ``bedrock`` client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from gateway.capabilities.model import ModelCapabilities
from gateway.emulator import rules
from gateway.emulator.runner import RunningEmulator, start_emulator_in_thread
from gateway.emulator.server import create_emulator_app
from gateway.emulator.state import EmulatorState
from tests.support.emulator_strict import USER, client, refusal

ACTIVE = ModelCapabilities(
    base_id="acme.active-v1:0",
    name="Acme Active",
    provider="acme",
    family="acme",
    tools=True,
    streaming_tools=True,
    exclusive_sampling=True,
    images=True,
    on_demand_regions=frozenset({"us-east-1"}),
    profiles=frozenset({"us", "eu", "global"}),
)
LEGACY = ModelCapabilities(
    base_id="acme.legacy-v1:0",
    name="Acme Legacy",
    provider="acme",
    family="acme",
    converse_stream=False,
    lifecycle="legacy",
    profiles=frozenset({"us"}),
)
EOL = ModelCapabilities(
    base_id="acme.retired-v1:0",
    name="Acme Retired",
    provider="acme",
    family="acme",
    lifecycle="eol",
    on_demand_regions=frozenset({"us-east-1"}),
)
EOL_DATE = ModelCapabilities(
    base_id="acme.dated-v1:0",
    name="Acme Dated",
    provider="acme",
    family="acme",
    eol_date="2020-01-01",
    on_demand_regions=frozenset({"us-east-1"}),
    profiles=frozenset({"us"}),
)
EMBED = ModelCapabilities(
    base_id="amazon.titan-embed-text-v2:0",
    name="Titan Text Embeddings V2",
    provider="amazon",
    family="titan-embed",
    kind="embedding",
    converse=False,
    converse_stream=False,
    max_output_tokens=0,
    on_demand_regions=frozenset({"us-east-1", "eu-west-1"}),
)
ROWS = (ACTIVE, LEGACY, EOL, EOL_DATE, EMBED)


@pytest.fixture(scope="module")
def synthetic() -> Iterator[RunningEmulator]:
    with start_emulator_in_thread(strict=True, models=ROWS) as running:
        yield running


@pytest.fixture(scope="module")
def east(synthetic: RunningEmulator) -> Any:
    return client(synthetic.url, "us-east-1")


@pytest.mark.parametrize("model_id", [EOL.base_id, EOL_DATE.base_id, f"us.{EOL_DATE.base_id}"])
def test_end_of_life(east: Any, model_id: str) -> None:
    assert refusal(lambda: east.converse(modelId=model_id, messages=USER)) == (
        404,
        "ResourceNotFoundException",
        rules.END_OF_LIFE,
    )


def test_temperature_with_top_p_on_exclusive_sampling(east: Any) -> None:
    both = {"temperature": 0.5, "topP": 0.9}
    assert refusal(
        lambda: east.converse(modelId=ACTIVE.base_id, messages=USER, inferenceConfig=both)
    ) == (400, "ValidationException", rules.SAMPLING)
    for one in ({"temperature": 0.5}, {"topP": 0.9}):
        east.converse(modelId=ACTIVE.base_id, messages=USER, inferenceConfig=one)


def test_no_streaming(east: Any) -> None:
    model_id = f"us.{LEGACY.base_id}"
    east.converse(modelId=model_id, messages=USER)
    assert refusal(lambda: east.converse_stream(modelId=model_id, messages=USER)) == (
        400,
        "ValidationException",
        rules.NO_STREAMING,
    )


def test_region_comes_from_the_credential_scope(synthetic: RunningEmulator) -> None:
    ireland = client(synthetic.url, "eu-west-1")
    assert refusal(lambda: ireland.converse(modelId=ACTIVE.base_id, messages=USER))[2] == (
        rules.ON_DEMAND.format(model_id=ACTIVE.base_id)
    )
    ireland.converse(modelId=f"eu.{ACTIVE.base_id}", messages=USER)
    ireland.converse(modelId=f"global.{ACTIVE.base_id}", messages=USER)
    assert refusal(lambda: ireland.converse(modelId=f"us.{ACTIVE.base_id}", messages=USER))[2] == (
        rules.INVALID_MODEL
    )
    # Offered neither on demand nor by a profile reachable from eu-west-1.
    assert refusal(lambda: ireland.converse(modelId=LEGACY.base_id, messages=USER)) == (
        400,
        "ValidationException",
        rules.INVALID_MODEL,
    )


async def test_bearer_requests_use_the_configured_region() -> None:
    app = create_emulator_app(
        EmulatorState(strict=True), bearer_tokens=["tok-1"], models=ROWS, region="eu-west-1"
    )
    async with TestServer(app) as server, ClientSession() as session:
        for model_id, status in ((ACTIVE.base_id, 400), (f"eu.{ACTIVE.base_id}", 200)):
            async with session.post(
                server.make_url(f"/model/{model_id}/converse"),
                json={"messages": USER},
                headers={"Authorization": "Bearer tok-1"},
            ) as response:
                assert response.status == status, await response.text()


# --- control plane ---------------------------------------------------------------------------


def test_list_foundation_models(synthetic: RunningEmulator) -> None:
    bedrock = client(synthetic.url, "us-east-1", "bedrock")
    summaries = bedrock.list_foundation_models()["modelSummaries"]
    by_id = {s["modelId"]: s for s in summaries}
    assert sorted(by_id) == sorted([ACTIVE.base_id, LEGACY.base_id, EMBED.base_id])
    assert by_id[ACTIVE.base_id]["modelLifecycle"] == {"status": "ACTIVE"}
    assert by_id[LEGACY.base_id]["modelLifecycle"] == {"status": "LEGACY"}
    assert by_id[ACTIVE.base_id]["inferenceTypesSupported"] == ["ON_DEMAND"]
    assert by_id[LEGACY.base_id]["inferenceTypesSupported"] == ["INFERENCE_PROFILE"]
    assert by_id[EMBED.base_id]["outputModalities"] == ["EMBEDDING"]
    assert by_id[ACTIVE.base_id]["modelArn"] == (
        f"arn:aws:bedrock:us-east-1::foundation-model/{ACTIVE.base_id}"
    )
    embeddings = bedrock.list_foundation_models(byOutputModality="EMBEDDING")["modelSummaries"]
    assert [s["modelId"] for s in embeddings] == [EMBED.base_id]
    on_demand = bedrock.list_foundation_models(byInferenceType="ON_DEMAND")["modelSummaries"]
    assert {s["modelId"] for s in on_demand} == {ACTIVE.base_id, EMBED.base_id}
    amazon = bedrock.list_foundation_models(byProvider="amazon")["modelSummaries"]
    assert [s["modelId"] for s in amazon] == [EMBED.base_id]


def test_listing_per_region(synthetic: RunningEmulator) -> None:
    ireland = client(synthetic.url, "eu-west-1", "bedrock")
    ids = {s["modelId"] for s in ireland.list_foundation_models()["modelSummaries"]}
    assert ids == {ACTIVE.base_id, EMBED.base_id}
    profiles = ireland.list_inference_profiles()["inferenceProfileSummaries"]
    assert [p["inferenceProfileId"] for p in profiles] == [
        f"eu.{ACTIVE.base_id}",
        f"global.{ACTIVE.base_id}",
    ]


def test_list_inference_profiles(synthetic: RunningEmulator, control: Any) -> None:
    bedrock = client(synthetic.url, "us-east-1", "bedrock")
    profiles = bedrock.list_inference_profiles()["inferenceProfileSummaries"]
    ids = [p["inferenceProfileId"] for p in profiles]
    assert ids == [f"us.{ACTIVE.base_id}", f"global.{ACTIVE.base_id}", f"us.{LEGACY.base_id}"]
    first = profiles[0]
    assert (first["type"], first["status"]) == ("SYSTEM_DEFINED", "ACTIVE")
    assert first["inferenceProfileArn"].endswith(f":inference-profile/us.{ACTIVE.base_id}")
    assert first["models"][0]["modelArn"].endswith(f"foundation-model/{ACTIVE.base_id}")
    assert (
        bedrock.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"] == []
    )
    paginator = bedrock.get_paginator("list_inference_profiles")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 2}))
    assert [len(page["inferenceProfileSummaries"]) for page in pages] == [2, 1]
    assert [
        p["inferenceProfileId"] for page in pages for p in page["inferenceProfileSummaries"]
    ] == ids


def test_denied_models_stay_listed(synthetic: RunningEmulator) -> None:
    synthetic.state.set_access(ACTIVE.base_id, False)
    try:
        bedrock = client(synthetic.url, "us-east-1", "bedrock")
        ids = [s["modelId"] for s in bedrock.list_foundation_models()["modelSummaries"]]
        assert ACTIVE.base_id in ids
        runtime = client(synthetic.url, "us-east-1")
        assert refusal(lambda: runtime.converse(modelId=ACTIVE.base_id, messages=USER))[0] == 403
    finally:
        synthetic.state.reset_access()


def test_listing_needs_a_valid_signature(synthetic: RunningEmulator) -> None:
    import boto3

    bad = boto3.client(
        "bedrock",
        endpoint_url=synthetic.url,
        region_name="us-east-1",
        aws_access_key_id="AKIAEMULATOR0EXAMPLE",
        aws_secret_access_key="wrong",
    )
    status, code, _ = refusal(bad.list_foundation_models)
    assert (status, code) == (403, "InvalidSignatureException")


def test_bad_page_token(synthetic: RunningEmulator) -> None:
    bedrock = client(synthetic.url, "us-east-1", "bedrock")
    status, code, _ = refusal(lambda: bedrock.list_inference_profiles(nextToken="zzz"))
    assert (status, code) == (400, "ValidationException")
