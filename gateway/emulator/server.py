"""Emulator: the aiohttp application speaking Bedrock Runtime's HTTP API (test/demo tool)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import web

from gateway.capabilities.lookup import split_profile
from gateway.capabilities.model import ModelCapabilities
from gateway.capabilities.table import MODELS
from gateway.emulator.answers import Answer, answer
from gateway.emulator.control import add_control_routes
from gateway.emulator.controlplane import add_controlplane_routes
from gateway.emulator.credentials import (
    EMULATOR_ACCESS_KEY_ID,
    EMULATOR_REGION,
    EMULATOR_SECRET_ACCESS_KEY,
)
from gateway.emulator.embeddings import embed
from gateway.emulator.errors import EmulatorError, fault_error, validation_error
from gateway.emulator.models import ModelRef, model_ref, resolve_model
from gateway.emulator.prompt_cache import PromptCache, with_cache
from gateway.emulator.rules import (
    NO_ACCESS,
    ModelTable,
    check_model,
    check_operation,
    check_request,
    today_utc,
    with_output_default,
)
from gateway.emulator.sigv4 import SigV4Verifier
from gateway.emulator.state import ERROR_MODES, OPERATIONS, EmulatorState, Fault
from gateway.emulator.streaming import write_stream
from gateway.emulator.validation import ConverseValidator

DEFAULT_CHUNKS = 8
UNSUPPORTED_CHAT = (
    "This action doesn't support the model that you provided. "
    "Try again with a supported text or chat model."
)
UNSUPPORTED_INVOKE = (
    "The emulator's InvokeModel serves embedding models only (amazon.titan-embed-*, "
    "cohere.embed-*); use Converse or ConverseStream for {model_id}."
)
STATE_KEY = web.AppKey("emulator_state", EmulatorState)
#: The ``additionalModelRequestFields`` of a Converse body, kept for the call log.
_FIELDS_KEY = web.RequestKey("additional_fields", dict)


class _HangUp(Exception):
    """Raised to close the connection without an answer (hang fault)."""


def _parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        raise validation_error("Malformed input request: the body is not valid JSON.") from None


class _Operations:
    """Handlers of /model/{modelId}/{operation}; one instance per app."""

    def __init__(
        self, state: EmulatorState, verifier: SigV4Verifier, table: ModelTable, region: str
    ) -> None:
        self.state = state
        self.verifier = verifier
        self.validator = ConverseValidator()
        self.table = table
        self.region = region
        self.prompt_cache = PromptCache()  # prefixes written by prompt caching

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.raw_path
        path = raw_path.partition("?")[0]
        encoded_id, _, operation = path[len("/model/") :].rpartition("/")
        if operation not in OPERATIONS or not encoded_id:
            return EmulatorError(
                404, "UnknownOperationException", f"Unknown operation: {path}"
            ).to_response()
        body = await request.read()
        try:
            region = self.verifier.verify(request.method, raw_path, request.headers, body)
        except EmulatorError as error:
            return error.to_response()
        model_id = unquote(encoded_id)
        self.state.count_call(operation, model_id)
        status = 499  # stays when the client goes away first (handler cancelled)
        try:
            try:
                response = await self._dispatch(
                    request, operation, model_id, body, region or self.region
                )
            except EmulatorError as error:
                response = error.to_response()
            except _HangUp:
                _close(request)
                response = web.Response(status=499)
            status = response.status
            return response
        finally:
            self.state.log_call(operation, model_id, status, request.get(_FIELDS_KEY))

    def _check_model(
        self, model_id: str, operation: str, region: str
    ) -> tuple[ModelRef, ModelCapabilities | None]:
        """Strict: the model's row after Bedrock's per-model refusals; lenient: no row."""
        if self.state.strict:
            caps = check_model(self.table, model_id, region, self.state.denied(), today_utc())
            check_operation(caps, operation)
            return model_ref(model_id, split_profile(model_id)[1]), caps
        ref = resolve_model(model_id)
        if ref.base_id in self.state.denied():
            raise EmulatorError(403, "AccessDeniedException", NO_ACCESS)
        if operation == "invoke":
            if not ref.is_embedding:
                raise validation_error(UNSUPPORTED_INVOKE.format(model_id=ref.model_id))
        elif ref.is_embedding:
            raise validation_error(UNSUPPORTED_CHAT)
        return ref, None

    async def _dispatch(
        self, request: web.Request, operation: str, model_id: str, body: bytes, region: str
    ) -> web.StreamResponse:
        started = time.monotonic()
        ref, caps = self._check_model(model_id, operation, region)
        fault = self.state.take_fault((ref.model_id, ref.base_id), operation)
        await _apply_fault(fault, ref)
        if fault is not None and fault.mode == "wrong_shape":
            return _json_response(WRONG_SHAPES[operation])
        payload = _parse_json(body)
        if operation == "invoke":
            return self._invoke(ref, payload, started)
        if not isinstance(payload, dict):
            raise validation_error("Malformed input request: the body must be a JSON object.")
        fields = payload.get("additionalModelRequestFields")
        if isinstance(fields, dict):
            request[_FIELDS_KEY] = fields
        self.validator.validate(operation, model_id, payload)
        if caps is not None:
            check_request(caps, operation, payload, region)
            payload = with_output_default(caps, payload)
        behaviour = self.state.behaviour((ref.model_id, ref.base_id))
        result = self._levers(
            payload, model_id, ref.base_id, answer(payload, ref.base_id, behaviour)
        )
        if behaviour is not None and behaviour.latency_ms:
            await asyncio.sleep(behaviour.latency_ms / 1000)
        latency_ms = max(1, round((time.monotonic() - started) * 1000))
        if operation == "converse":
            document = {
                "output": {"message": {"role": "assistant", "content": result.content()}},
                "stopReason": result.stop_reason,
                "usage": result.usage,
                "metrics": {"latencyMs": latency_ms},
                **result.served,
            }
            return _json_response(document)
        chunks = DEFAULT_CHUNKS
        if behaviour is not None and behaviour.chunks is not None:
            chunks = behaviour.chunks
        return await write_stream(request, result, chunks, latency_ms, fault)

    def _levers(self, body: dict[str, Any], model_id: str, base_id: str, result: Answer) -> Answer:
        """Prompt-cache reads and writes in usage; the tier and latency that served."""
        found = self.table.resolve(model_id)
        caching = found.caps.prompt_caching if found is not None else None
        usage = result.usage
        if caching is not None or (found is None and not self.state.strict):
            minimum = caching.min_tokens if caching is not None else 0
            read, written = self.prompt_cache.apply(base_id, body, minimum)
            usage = with_cache(usage, read, written)
        served: dict[str, Any] = {}
        if "serviceTier" in body:
            served["serviceTier"] = {"type": body["serviceTier"]["type"]}
        if "performanceConfig" in body:
            served["performanceConfig"] = {"latency": body["performanceConfig"]["latency"]}
        return replace(result, usage=usage, served=served)

    @staticmethod
    def _invoke(ref: ModelRef, payload: Any, started: float) -> web.Response:
        document, tokens = embed(ref, payload)
        latency_ms = max(1, round((time.monotonic() - started) * 1000))
        return _json_response(
            document,
            {
                "x-amzn-bedrock-input-token-count": str(tokens),
                "x-amzn-bedrock-invocation-latency": str(latency_ms),
            },
        )


#: 200 bodies of the ``wrong_shape`` fault: JSON objects, but not Bedrock's documented shape.
WRONG_SHAPES: dict[str, Any] = {
    "converse": {"output": "not an object", "stopReason": 7, "usage": {"inputTokens": "many"}},
    "invoke": {"embedding": "not a vector", "inputTextTokenCount": "many"},
}


def _json_response(document: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    response = web.Response(body=orjson.dumps(document), content_type="application/json")
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    if headers:
        response.headers.update(headers)
    return response


def _close(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


async def _apply_fault(fault: Fault | None, ref: ModelRef) -> None:
    """Raise for error modes, wait for hang/slow; stream modes act later."""
    if fault is None:
        return
    if fault.mode in ERROR_MODES:
        raise fault_error(fault.mode, ref.model_id)
    if fault.mode == "hang":
        await asyncio.sleep(fault.delay_ms / 1000)
        raise _HangUp
    if fault.mode == "reset":  # the request reached the model; the answer never comes back
        await asyncio.sleep(fault.delay_ms / 1000)
        raise _HangUp
    if fault.delay_ms:
        await asyncio.sleep(fault.delay_ms / 1000)


def create_emulator_app(
    state: EmulatorState | None = None,
    *,
    credentials: Mapping[str, str] | None = None,
    bearer_tokens: Collection[str] = (),
    models: Iterable[ModelCapabilities] | None = None,
    region: str = EMULATOR_REGION,
) -> web.Application:
    """The emulator's aiohttp app: Bedrock Runtime operations, the control-plane listings
    and the /_emulator control API. ``models`` replaces the package's model table (tests);
    ``region`` is the region of bearer-token requests (SigV4 ones carry theirs)."""
    state = state if state is not None else EmulatorState()
    if credentials is None:
        credentials = {EMULATOR_ACCESS_KEY_ID: EMULATOR_SECRET_ACCESS_KEY}
    table = ModelTable(MODELS if models is None else models)
    verifier = SigV4Verifier(credentials, bearer_tokens)
    operations = _Operations(state, verifier, table, region)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[STATE_KEY] = state
    app.router.add_post("/model/{tail:.+}", operations.handle)
    add_controlplane_routes(app, state, verifier, table, region)
    add_control_routes(app, state)
    return app
