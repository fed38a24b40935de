"""json_bytes: orjson's output, in an allocation of its own size."""

from __future__ import annotations

import tracemalloc
from typing import Any

import orjson
import pytest

from gateway.jsonbytes import json_bytes

VALUES: list[Any] = [
    {},
    {"messages": [{"role": "user", "content": [{"text": "Say hello"}]}]},
    {"inputText": "x" * 3000, "dimensions": 256},
    {"big": "é" * 50_000, "list": list(range(1000))},
    [1.5, None, True, "\u2028"],
]


@pytest.mark.parametrize("value", VALUES)
def test_same_bytes_as_orjson(value: Any) -> None:
    assert json_bytes(value) == orjson.dumps(value)
    assert type(json_bytes(value)) is bytes


@pytest.mark.parametrize("value", VALUES)
def test_keeps_no_more_than_its_length(value: Any) -> None:
    kept: list[bytes] = []
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept.extend(json_bytes(value) for _ in range(50))
        per_object = (tracemalloc.get_traced_memory()[0] - before) / 50
    finally:
        tracemalloc.stop()
    assert per_object <= len(kept[0]) + 64, (per_object, len(kept[0]))
