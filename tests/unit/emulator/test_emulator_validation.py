"""Emulator: Converse validation rules, table-driven from data/validation_cases.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.emulator.errors import EmulatorError
from gateway.emulator.validation import ConverseValidator

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "validation_cases.json").read_text()
)
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture(scope="module")
def validator() -> ConverseValidator:
    return ConverseValidator()


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
@pytest.mark.parametrize("operation", ["converse", "converse-stream"])
def test_validation(validator: ConverseValidator, case: dict[str, Any], operation: str) -> None:
    if case["error"] is None:
        validator.validate(operation, MODEL, case["body"])
        return
    with pytest.raises(EmulatorError) as caught:
        validator.validate(operation, MODEL, case["body"])
    assert caught.value.status == 400
    assert caught.value.code == "ValidationException"
    assert case["error"] in caught.value.message


def test_prompt_arn_needs_no_messages(validator: ConverseValidator) -> None:
    validator.validate("converse", "arn:aws:bedrock:us-east-1:123456789012:prompt/abc", {})
