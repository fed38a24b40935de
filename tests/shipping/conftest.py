"""Shipping tests: the loaded chart and the gateway's metric families, once per session."""

from __future__ import annotations

from collections.abc import Iterator

import helm_python
import pytest

from tests.shipping.kit import CHART, Family, exported_families


@pytest.fixture(scope="session")
def chart() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(CHART) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def families() -> dict[str, Family]:
    return exported_families()
