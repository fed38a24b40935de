"""Emulator: the unsigned /_emulator control API (faults, behaviour, strict mode, model
access, call log, health)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import web

from gateway.capabilities.lookup import split_profile
from gateway.emulator.state import EmulatorState

PREFIX = "/_emulator"
_FAULT_FIELDS = frozenset({"mode", "times", "delay_ms", "after_chunks", "chunk_delay_ms"})
_BEHAVIOUR_FIELDS = frozenset({"reply", "tool_arguments", "chunks", "latency_ms"})


def _json(document: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(document), content_type="application/json")


def _bad_request(message: str) -> web.Response:
    return _json({"message": message}, 400)


def _model_id(request: web.Request, section: str) -> str:
    path = request.raw_path.partition("?")[0]
    return unquote(path[len(f"{PREFIX}/{section}/") :])


async def _body(request: web.Request, allowed: frozenset[str]) -> dict[str, Any]:
    raw = await request.read()
    try:
        document = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        raise ValueError("the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise ValueError("the body must be a JSON object")
    unknown = sorted(set(document) - allowed)
    if unknown:
        raise ValueError(f"unknown fields {unknown}; allowed: {sorted(allowed)}")
    return document


def _int_or_none(document: dict[str, Any], name: str) -> int | None:
    value = document.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise ValueError(f"{name} must be an integer or null")
    return value


class _Control:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def put_fault(self, request: web.Request) -> web.Response:
        model_id = _model_id(request, "faults")
        try:
            document = await _body(request, _FAULT_FIELDS)
            mode = document.get("mode")
            if not isinstance(mode, str):
                raise ValueError("mode is required (a string)")
            after_chunks = _int_or_none(document, "after_chunks")
            chunk_delay_ms = _int_or_none(document, "chunk_delay_ms")
            self.state.set_fault(
                model_id,
                mode,
                times=_int_or_none(document, "times"),
                delay_ms=_int_or_none(document, "delay_ms"),
                after_chunks=1 if after_chunks is None else after_chunks,
                chunk_delay_ms=chunk_delay_ms or 0,
            )
        except ValueError as error:
            return _bad_request(str(error))
        return _json({"model_id": model_id, "fault": self.state.faults()[model_id]})

    async def get_faults(self, request: web.Request) -> web.Response:
        return _json({"faults": self.state.faults()})

    async def delete_faults(self, request: web.Request) -> web.Response:
        self.state.clear_faults()
        return _json({"cleared": "all"})

    async def delete_fault(self, request: web.Request) -> web.Response:
        model_id = _model_id(request, "faults")
        self.state.clear_faults(model_id)
        return _json({"cleared": model_id})

    async def put_behaviour(self, request: web.Request) -> web.Response:
        model_id = _model_id(request, "behaviour")
        try:
            document = await _body(request, _BEHAVIOUR_FIELDS)
            reply = document.get("reply")
            arguments = document.get("tool_arguments")
            if reply is not None and not isinstance(reply, str):
                raise ValueError("reply must be a string or null")
            if arguments is not None and not isinstance(arguments, dict):
                raise ValueError("tool_arguments must be an object or null")
            self.state.set_behaviour(
                model_id,
                reply=reply,
                tool_arguments=arguments,
                chunks=_int_or_none(document, "chunks"),
                latency_ms=_int_or_none(document, "latency_ms"),
            )
        except ValueError as error:
            return _bad_request(str(error))
        return _json({"model_id": model_id, "behaviour": document})

    async def delete_behaviours(self, request: web.Request) -> web.Response:
        self.state.clear_behaviour()
        return _json({"cleared": "all"})

    async def delete_behaviour(self, request: web.Request) -> web.Response:
        model_id = _model_id(request, "behaviour")
        self.state.clear_behaviour(model_id)
        return _json({"cleared": model_id})

    async def get_calls(self, request: web.Request) -> web.Response:
        return _json({"counts": self.state.counts(), "calls": self.state.calls()})

    async def delete_calls(self, request: web.Request) -> web.Response:
        self.state.reset_calls()
        return _json({"cleared": "calls"})

    async def get_strict(self, request: web.Request) -> web.Response:
        return _json({"strict": self.state.strict})

    async def put_strict(self, request: web.Request) -> web.Response:
        try:
            document = await _body(request, frozenset({"strict"}))
            if not isinstance(document.get("strict"), bool):
                raise ValueError("strict is required (true or false)")
        except ValueError as error:
            return _bad_request(str(error))
        self.state.strict = document["strict"]
        return _json({"strict": self.state.strict})

    async def put_access(self, request: web.Request) -> web.Response:
        _, base_id = split_profile(_model_id(request, "access"))
        try:
            document = await _body(request, frozenset({"granted"}))
            if not isinstance(document.get("granted"), bool):
                raise ValueError("granted is required (true or false)")
        except ValueError as error:
            return _bad_request(str(error))
        self.state.set_access(base_id, document["granted"])
        return _json({"model_id": base_id, "granted": document["granted"]})

    async def get_access(self, request: web.Request) -> web.Response:
        return _json({"denied": sorted(self.state.denied())})

    async def delete_access(self, request: web.Request) -> web.Response:
        self.state.reset_access()
        return _json({"cleared": "access"})

    async def health(self, request: web.Request) -> web.Response:
        return _json({"status": "ok"})


def add_control_routes(app: web.Application, state: EmulatorState) -> None:
    """Mount the control API under /_emulator (no signature needed)."""
    control = _Control(state)
    router = app.router
    router.add_put(PREFIX + "/faults/{model_id:.+}", control.put_fault)
    router.add_get(PREFIX + "/faults", control.get_faults)
    router.add_delete(PREFIX + "/faults", control.delete_faults)
    router.add_delete(PREFIX + "/faults/{model_id:.+}", control.delete_fault)
    router.add_put(PREFIX + "/behaviour/{model_id:.+}", control.put_behaviour)
    router.add_delete(PREFIX + "/behaviour", control.delete_behaviours)
    router.add_delete(PREFIX + "/behaviour/{model_id:.+}", control.delete_behaviour)
    router.add_get(PREFIX + "/calls", control.get_calls)
    router.add_delete(PREFIX + "/calls", control.delete_calls)
    router.add_get(PREFIX + "/strict", control.get_strict)
    router.add_put(PREFIX + "/strict", control.put_strict)
    router.add_put(PREFIX + "/access/{model_id:.+}", control.put_access)
    router.add_get(PREFIX + "/access", control.get_access)
    router.add_delete(PREFIX + "/access", control.delete_access)
    router.add_get(PREFIX + "/health", control.health)
