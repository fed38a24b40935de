"""Emulator: strict-mode rules as pure functions over synthetic rows (table-driven)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from gateway.capabilities.model import ModelCapabilities
from gateway.emulator import rules
from gateway.emulator.errors import EmulatorError

TODAY = date(2026, 12, 2)
ROW = ModelCapabilities(
    base_id="acme.chat-v1:0",
    name="Acme Chat",
    provider="acme",
    family="acme",
    tools=True,
    max_output_tokens=1000,
    default_output_tokens=300,
    on_demand_regions=frozenset({"us-west-2"}),
    profiles=frozenset({"us", "apac"}),
)
DATED = ModelCapabilities(
    base_id="acme.dated-v1:0",
    name="Acme Dated",
    provider="acme",
    family="acme",
    eol_date="2026-12-02",
    on_demand_regions=frozenset({"us-east-1"}),
)
TABLE = rules.ModelTable((ROW, DATED))


@pytest.mark.parametrize(
    ("model_id", "region", "denied", "expected"),
    [
        ("acme.chat-v1:0", "us-west-2", (), None),
        ("us.acme.chat-v1:0", "us-east-1", (), None),
        ("arn:aws:bedrock:us-east-1:1:inference-profile/us.acme.chat-v1:0", "us-east-1", (), None),
        ("apac.acme.chat-v1:0", "ap-northeast-1", (), None),
        ("acme.chat-v1:0:8k", "us-west-2", (), None),  # a provisioned variant of the base id
        (
            "acme.chat-v1:0",
            "us-east-1",
            (),
            (400, rules.ON_DEMAND.format(model_id="acme.chat-v1:0")),
        ),
        ("acme.chat-v1:0", "eu-west-1", (), (400, rules.INVALID_MODEL)),
        ("eu.acme.chat-v1:0", "eu-west-1", (), (400, rules.INVALID_MODEL)),
        ("us.acme.chat-v1:0", "eu-west-1", (), (400, rules.INVALID_MODEL)),
        ("acme.other-v1:0", "us-west-2", (), (400, rules.INVALID_MODEL)),
        (
            "arn:aws:bedrock:us-east-1:1:application-inference-profile/x",
            "us-east-1",
            (),
            (400, rules.INVALID_MODEL),
        ),
        ("acme.chat-v1:0", "us-west-2", ("acme.chat-v1:0",), (403, rules.NO_ACCESS)),
        ("acme.dated-v1:0", "us-east-1", (), (404, rules.END_OF_LIFE)),
        ("acme.dated-v1:0", "us-east-1", ("acme.dated-v1:0",), (404, rules.END_OF_LIFE)),
    ],
)
def test_check_model(
    model_id: str, region: str, denied: tuple[str, ...], expected: tuple[int, str] | None
) -> None:
    if expected is None:
        assert rules.check_model(TABLE, model_id, region, denied, TODAY).base_id in (
            ROW.base_id,
            DATED.base_id,
        )
        return
    with pytest.raises(EmulatorError) as caught:
        rules.check_model(TABLE, model_id, region, denied, TODAY)
    assert (caught.value.status, caught.value.message) == expected


def test_end_of_life_date_is_inclusive() -> None:
    assert rules.is_end_of_life(DATED, TODAY)
    assert not rules.is_end_of_life(DATED, date(2026, 12, 1))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"inferenceConfig": {}}, 300),
        ({"inferenceConfig": {"maxTokens": 9}}, 9),
        ({}, 300),
    ],
)
def test_output_default(body: dict[str, Any], expected: int) -> None:
    before = repr(body)
    shaped = rules.with_output_default(ROW, body)
    assert shaped["inferenceConfig"]["maxTokens"] == expected
    assert repr(body) == before  # the client's body is not changed in place


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write [emulator:long=600] please", 600),
        ("[emulator:long=0]", None),
        ("[emulator:long=abc]", None),
        ("[emulator:long=2000000]", None),
        ("no directive", None),
    ],
)
def test_long_directive(text: str, expected: int | None) -> None:
    assert rules.long_reply_tokens(text) == expected
