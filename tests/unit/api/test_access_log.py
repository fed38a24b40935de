"""Unit: the access line reaches the gateway's JSON handler directly, and every other logging
set-up (a capture handler, a filter, text format) still through the logging chain."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest

from gateway.api.access_log import AccessLog
from gateway.logs import JsonFormatter
from gateway.service.context import CallContext


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def root_stream() -> Iterator[tuple[io.StringIO, logging.StreamHandler[io.StringIO]]]:
    """The root logger as ``configure_logging`` leaves it in JSON mode, writing to a buffer."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield stream, handler
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def ctx() -> CallContext:
    return CallContext(request_id="req_1", tenant="t", route="r", model="m", status=200)


def test_the_gateway_json_handler_gets_the_line_directly(
    root_stream: tuple[io.StringIO, logging.StreamHandler[io.StringIO]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream, _ = root_stream
    logger = logging.getLogger("gateway.access")

    def no_record(*args: object, **kwargs: object) -> logging.LogRecord:
        raise AssertionError("the direct path builds no LogRecord")

    monkeypatch.setattr(logger, "makeRecord", no_record)
    logging.getLogger().handlers[:] = [root_stream[1]]  # without pytest's own capture handler
    AccessLog(logger, json_format=True).write(ctx(), 0.0123)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    line = orjson.loads(lines[0])
    assert list(line)[:2] == ["ts", "event"]  # a timestamp, as the other JSON lines carry
    assert line["request_id"] == "req_1" and line["latency_ms"] == 12.3 and line["status"] == 200


@pytest.mark.parametrize(
    "arrange",
    [
        "capture handler on gateway.access",
        "filter on the root handler",
        "second root handler",
        "access logger not propagating",
    ],
)
def test_any_other_setup_goes_through_logging(
    root_stream: tuple[io.StringIO, logging.StreamHandler[io.StringIO]], arrange: str
) -> None:
    stream, handler = root_stream
    logger = logging.getLogger("gateway.access")
    capture = Capture()
    undo: list[tuple[object, str, object]] = []
    if arrange == "capture handler on gateway.access":
        logger.addHandler(capture)
    elif arrange == "filter on the root handler":
        handler.addFilter(lambda record: record.name != "gateway.access")
        logging.getLogger().addHandler(capture)
    elif arrange == "second root handler":
        logging.getLogger().handlers[:] = [handler, capture]
    else:
        logger.addHandler(capture)
        undo.append((logger, "propagate", logger.propagate))
        logger.propagate = False
    try:
        AccessLog(logger, json_format=True).write(ctx(), 0.001)
    finally:
        logger.removeHandler(capture)
        handler.filters.clear()
        for target, name, value in undo:
            setattr(target, name, value)
    assert [orjson.loads(r.getMessage())["request_id"] for r in capture.records] == ["req_1"]
    written = stream.getvalue().splitlines()
    expected = {
        "capture handler on gateway.access": 1,  # and it propagates to root as well
        "filter on the root handler": 0,
        "second root handler": 1,
        "access logger not propagating": 0,
    }[arrange]
    assert len(written) == expected


def test_text_format_goes_through_the_formatter(
    root_stream: tuple[io.StringIO, logging.StreamHandler[io.StringIO]],
) -> None:
    stream, handler = root_stream
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    AccessLog(logging.getLogger("gateway.access"), json_format=False).write(ctx(), 0.002)
    assert stream.getvalue().startswith("INFO gateway.access event=request request_id=req_1 ")


def test_nothing_below_info(
    root_stream: tuple[io.StringIO, logging.StreamHandler[io.StringIO]],
) -> None:
    stream, _ = root_stream
    logging.getLogger().setLevel(logging.WARNING)
    AccessLog(logging.getLogger("gateway.access"), json_format=True).write(ctx(), 0.002)
    assert stream.getvalue() == ""


def test_a_closed_stream_loses_the_line_quietly(
    root_stream: tuple[io.StringIO, logging.StreamHandler[io.StringIO]],
) -> None:
    stream, handler = root_stream
    logging.getLogger().handlers[:] = [handler]  # without pytest's own capture handler
    stream.close()
    AccessLog(logging.getLogger("gateway.access"), json_format=True).write(ctx(), 0.002)
