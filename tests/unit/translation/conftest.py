"""Fixtures for the translation tests (helpers live in ``translation_checks``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.translation.translation_checks import validate_converse


@pytest.fixture
def converse_validator() -> Callable[[dict[str, Any], str], None]:
    """``validate(body, model_id)``: botocore's ParamValidator plus Bedrock's own rules."""
    return validate_converse
