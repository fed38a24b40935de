"""Resilience: fuzzed input (schemathesis, hypothesis) is a valid OpenAI answer, never a 5xx."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from openai.types.chat import ChatCompletion
from openai.types.responses import Response
from schemathesis import GenerationMode

from gateway.emulator.runner import RunningEmulator
from gateway.errors import GatewayError
from gateway.schemas.parse import parse_chat_request
from gateway.translation.openai_to_converse import converse_body, prepare_conversation
from tests.resilience.helpers import ADMIN_KEY, KEY, assert_openai_error, write_policy
from tests.support.openai_wire import parse_sse, validate_embeddings
from tests.support.responses_wire import parse_events
from tests.support.servers import GatewayServer, running_gateway

TERMINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")
MAX_EXAMPLES = 60  # per operation and generation mode
SEED = 20240601
SMALL_BODY = 64 * 1024  # the fuzzing gateway's GATEWAY_MAX_BODY_BYTES
FUZZ_MAX_MESSAGES, FUZZ_MAX_TOOLS = 40, 6  # its GATEWAY_MAX_MESSAGES and GATEWAY_MAX_TOOLS
MAX_HEADER_BYTES, MAX_HEADERS = 64 * 1024, 100  # the defaults
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
# The operations the gateway documents today; any other one is fuzzed by the catch-all test.
OPERATIONS = [
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/embeddings"),
    ("POST", "/v1/gateway/explain"),
    ("POST", "/v1/gateway/reload"),
    ("POST", "/v1/responses"),
    ("GET", "/v1/responses/{response_id}"),
    ("DELETE", "/v1/responses/{response_id}"),
    ("GET", "/v1/responses/{response_id}/input_items"),
    ("GET", "/v1/models"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
]


@pytest.fixture(scope="module")
def fuzz_gateway(
    emulator: RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    policy = write_policy(tmp_path_factory.mktemp("fuzz-policy"), timeout_s=10)
    with running_gateway(
        policies=policy,
        api_keys=KEY,
        admin_key=ADMIN_KEY,
        max_body_bytes=SMALL_BODY,
        max_messages=FUZZ_MAX_MESSAGES,
        max_tools=FUZZ_MAX_TOOLS,
    ) as server:
        yield server


@pytest.fixture(scope="module")
def api_schema(fuzz_gateway: GatewayServer) -> Any:
    """The gateway's own OpenAPI document, as served."""
    return schemathesis.openapi.from_url(f"{fuzz_gateway.url}/openapi.json")


def check_answer(method: str, path: str, response: Any, body: Any) -> None:
    """The contract for every answer: no 5xx; errors are OpenAI's; successes parse."""
    status = response.status_code
    assert status < 500, (method, path, status, response.content[:500], body)
    if status >= 400:
        assert_openai_error(response.content)
        return
    if path == "/v1/chat/completions":
        if isinstance(body, dict) and body.get("stream") is True:
            events, done = parse_sse(response.content)
            assert done or "error" in events[-1]
        else:
            ChatCompletion.model_validate(orjson.loads(response.content))
    elif path == "/v1/embeddings":
        validate_embeddings(response.content)
    elif path == "/v1/responses":
        if isinstance(body, dict) and body.get("stream") is True:
            events = parse_events(response.content)
            assert events[-1].type in TERMINAL_EVENTS
        else:
            Response.model_validate(orjson.loads(response.content))
    elif path != "/metrics":
        assert isinstance(orjson.loads(response.content), dict)


def _headers(path: str) -> dict[str, str]:
    key = ADMIN_KEY if path == "/v1/gateway/reload" else KEY
    return {"Authorization": f"Bearer {key}"}


def fuzz_operation(schema: Any, gateway: GatewayServer, method: str, path: str) -> int:
    """Run both generation modes of one operation; return the number of requests sent."""
    from schemathesis.checks import not_a_server_error

    operation = schema[path][method]
    sent = 0
    modes = [GenerationMode.POSITIVE]
    # Nothing to break in an operation without input, nor in a free-text path segment
    # (``/v1/models/{model}``: every string is a name, known or not).
    if list(operation.body) or any(p.location != "path" for p in operation.iter_parameters()):
        modes.append(GenerationMode.NEGATIVE)
    for mode in modes:

        @FUZZ
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            nonlocal sent
            response = case.call(base_url=gateway.url, headers=_headers(path), timeout=30)
            sent += 1
            case.validate_response(response, checks=[not_a_server_error])
            check_answer(method, path, response, case.body)

        try:
            run()
        except Unsatisfiable:
            if mode is GenerationMode.POSITIVE:
                raise
            # every input is valid (a bare string path parameter): nothing to negate
    print(f"schemathesis: {method} {path}: {sent} requests")
    return sent


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[p for _m, p in OPERATIONS])
def test_schemathesis_operation(
    api_schema: Any, fuzz_gateway: GatewayServer, method: str, path: str
) -> None:
    assert path in api_schema, f"{path} missing from /openapi.json"
    assert fuzz_operation(api_schema, fuzz_gateway, method, path) > 0


def test_schemathesis_every_other_documented_operation(
    api_schema: Any, fuzz_gateway: GatewayServer
) -> None:
    others = [
        (op.method.upper(), op.path)
        for result in api_schema.get_all_operations()
        for op in [result.ok()]
        if (op.method.upper(), op.path) not in OPERATIONS
    ]
    for method, path in others:
        fuzz_operation(api_schema, fuzz_gateway, method, path)


def test_chat_and_embeddings_bodies_are_documented(api_schema: Any) -> None:
    """The fuzzer only finds deep bugs when the hand-parsed bodies are described."""
    for path in ("/v1/chat/completions", "/v1/embeddings", "/v1/gateway/explain", "/v1/responses"):
        operation = api_schema[path]["POST"]
        bodies = list(operation.body)
        assert bodies and bodies[0].media_type == "application/json"


# --- Hypothesis at the HTTP edge -------------------------------------------------------------

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)
IMAGE_URLS = st.sampled_from(
    [
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
        "data:image/png;base64,@@@@",
        "data:,",
        "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=",
        "http://127.0.0.1/x.png",
        "file:///etc/passwd",
        "",
    ]
)
PART = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "image_url", "input_audio", "file", "refusal", "video"])},
    optional={
        "text": st.one_of(st.text(max_size=40), JUNK),
        "image_url": st.one_of(st.fixed_dictionaries({"url": IMAGE_URLS}), JUNK),
        "refusal": st.text(max_size=10),
    },
)
TOOL_CALL = st.fixed_dictionaries(
    {
        "id": st.one_of(st.text(max_size=8), JUNK),
        "type": st.sampled_from(["function", "custom", "x"]),
        "function": st.one_of(
            st.fixed_dictionaries(
                {"name": st.text(max_size=8), "arguments": st.one_of(st.text(max_size=20), JUNK)}
            ),
            JUNK,
        ),
    }
)
MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(
            ["system", "developer", "user", "assistant", "tool", "function", "x"]
        )
    },
    optional={
        "content": st.one_of(st.text(max_size=60), st.lists(PART, max_size=3), JUNK),
        "name": st.one_of(st.text(max_size=8), JUNK),
        "tool_calls": st.one_of(st.lists(TOOL_CALL, max_size=2), JUNK),
        "tool_call_id": st.one_of(st.text(max_size=8), JUNK),
    },
)
TOOL = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["function", "x"]),
        "function": st.one_of(
            st.fixed_dictionaries(
                {"name": st.from_regex(r"[a-z_]{1,10}", fullmatch=True)},
                optional={"parameters": st.one_of(JSON, st.just({"type": "object"}))},
            ),
            JUNK,
        ),
    }
)
CHAT_BODY = st.fixed_dictionaries(
    {
        "model": st.one_of(st.sampled_from(["haiku", "chain", "tools", "embed", "", "nope"]), JUNK),
        "messages": st.one_of(st.lists(MESSAGE, max_size=5), JUNK),
    },
    optional={
        "temperature": st.one_of(st.floats(min_value=-1, max_value=3), JUNK),
        "top_p": JUNK,
        "max_tokens": st.one_of(st.integers(min_value=-5, max_value=10**7), JUNK),
        "max_completion_tokens": JUNK,
        "stream": st.one_of(st.booleans(), JUNK),
        "stream_options": st.one_of(st.fixed_dictionaries({"include_usage": JUNK}), JUNK),
        "stop": st.one_of(st.lists(st.text(max_size=5), max_size=5), JUNK),
        "tools": st.one_of(st.lists(TOOL, max_size=2), JUNK),
        "tool_choice": st.one_of(
            st.sampled_from(["auto", "none", "required", "any"]),
            st.fixed_dictionaries(
                {
                    "type": st.just("function"),
                    "function": st.fixed_dictionaries({"name": st.text(max_size=5)}),
                }
            ),
            JUNK,
        ),
        "response_format": st.one_of(
            st.fixed_dictionaries(
                {"type": st.sampled_from(["text", "json_object", "json_schema"])}
            ),
            JUNK,
        ),
        "n": JUNK,
        "seed": JUNK,
        "reasoning_effort": JUNK,
        "logit_bias": JUNK,
        "user": JUNK,
        "metadata": st.one_of(JSON, JUNK),
        "unknown_field": JUNK,
    },
)
EDGE = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def http(fuzz_gateway: GatewayServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=fuzz_gateway.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    ) as client:
        yield client


def _post(http: httpx.Client, content: bytes, path: str = "/v1/chat/completions") -> httpx.Response:
    return http.post(path, content=content, headers={"Content-Type": "application/json"})


def test_chat_shaped_bodies_are_answered_or_refused_cleanly(http: httpx.Client) -> None:
    @EDGE
    @given(body=CHAT_BODY)
    def run(body: dict[str, Any]) -> None:
        response = _post(http, json.dumps(body).encode())  # stdlib: integers past 64 bits too
        assert response.status_code in (200, 400, 404, 413), (response.status_code, body)
        check_answer("POST", "/v1/chat/completions", response, body)

    run()


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/embeddings", "/v1/gateway/explain"])
def test_random_json_and_bytes_are_400(http: httpx.Client, path: str) -> None:
    @EDGE
    @given(body=st.one_of(JSON.map(orjson.dumps), st.binary(max_size=200)))
    def run(body: bytes) -> None:
        response = _post(http, body, path)
        assert response.status_code in (400, 404, 413) or response.status_code == 200, body
        check_answer("POST", path, response, None)

    run()


@pytest.mark.parametrize("depth", [65, 200, 5_000, 10_000])
@pytest.mark.parametrize("shape", ["object", "array"])
def test_deeply_nested_json_is_400(http: httpx.Client, depth: int, shape: str) -> None:
    opener, closer = (b'{"a":', b"}") if shape == "object" else (b"[", b"]")
    nested = opener * depth + b"1" + closer * depth
    body = (
        b'{"model":"haiku","messages":[{"role":"user","content":"x"}],"metadata":' + nested + b"}"
    )
    assert len(body) <= SMALL_BODY  # so the nesting check, not the size limit, answers
    started = time.monotonic()
    response = _post(http, body)
    assert time.monotonic() - started < 5
    assert response.status_code == 400
    assert_openai_error(response.content)


def test_deep_nesting_just_inside_the_limit_is_accepted_as_json(http: httpx.Client) -> None:
    nested = b'{"a":' * 60 + b"1" + b"}" * 60
    body = (
        b'{"model":"haiku","messages":[{"role":"user","content":"x"}],"metadata":' + nested + b"}"
    )
    response = _post(http, body)
    assert response.status_code == 200, response.text  # ``metadata`` is accepted and ignored


@pytest.mark.parametrize("size", [SMALL_BODY - 2048, SMALL_BODY * 4, 20 * 1024 * 1024])
def test_huge_strings_are_bounded(http: httpx.Client, size: int) -> None:
    body = orjson.dumps({"model": "haiku", "messages": [{"role": "user", "content": "x" * size}]})
    response = _post(http, body)
    if len(body) > SMALL_BODY:
        assert response.status_code == 413
        assert assert_openai_error(response.content)["code"] == "request_too_large"
    else:
        assert response.status_code == 200


# --- Bodies over the limit: refused before being read whole -------------------------------


def _read_status(sock: socket.socket, timeout_s: float) -> bytes:
    sock.settimeout(timeout_s)
    data = b""
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def _send_until_answered(
    port: int, head: bytes, piece: bytes, *, budget: int, chunked: bool
) -> tuple[bytes, int]:
    """Send ``head`` then ``piece`` repeatedly until the server answers or ``budget`` is spent."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
        while sent < budget:
            readable, _w, _x = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(frame)
            except OSError:  # the server closed on us: its answer is waiting
                break
            sent += len(piece)
        return _read_status(sock, 10), sent


def _head(port: int, extra: bytes) -> bytes:
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
        b"Authorization: Bearer %s\r\nContent-Type: application/json\r\n%s\r\n"
        % (port, KEY.encode(), extra)
    )


def test_chunked_body_over_the_limit_is_413_before_it_is_all_sent(
    fuzz_gateway: GatewayServer,
) -> None:
    port = fuzz_gateway.server.config.port
    budget = 256 * SMALL_BODY  # 16 MiB: far more than the limit, socket buffers and all
    piece = b"[" + b" " * 65534 + b"]"
    answer, sent = _send_until_answered(
        port, _head(port, b"Transfer-Encoding: chunked\r\n"), piece, budget=budget, chunked=True
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < budget, "the gateway read everything before answering"


def test_lying_content_length_over_the_limit_is_413_at_once(
    fuzz_gateway: GatewayServer,
) -> None:
    port = fuzz_gateway.server.config.port
    started = time.monotonic()
    answer, _sent = _send_until_answered(
        port, _head(port, b"Content-Length: 10000000000\r\n"), b"{", budget=1, chunked=False
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - started < 3


def test_body_longer_than_its_content_length_is_cut_at_the_declared_length(
    http: httpx.Client, fuzz_gateway: GatewayServer
) -> None:
    """A small declared length with a big body: only the declared bytes are read (a 400)."""
    port = fuzz_gateway.server.config.port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_head(port, b"Content-Length: 20\r\n") + b'{"model": "haiku", "messages": []}')
        answer = _read_status(sock, 10)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert http.get("/healthz").status_code == 200


# --- Hypothesis on the translation layer (pure) --------------------------------------------


@settings(max_examples=400, derandomize=True, database=None, deadline=None)
@given(body=CHAT_BODY)
def test_translation_never_fails_outside_the_error_tree(body: dict[str, Any]) -> None:
    """parse -> prepare -> Converse body: a 4xx GatewayError or a JSON-serialisable body."""
    try:
        request = parse_chat_request(body)
        prepared = prepare_conversation(request, images=None, allow_image_urls=False)
        document = converse_body(prepared, "anthropic.claude-3-haiku-20240307-v1:0")
    except GatewayError as err:
        assert 400 <= err.status < 500, err
        assert err.to_body()["error"]["message"]
        return
    assert isinstance(orjson.loads(orjson.dumps(document)), dict)


# --- Heads and counts around the bounds ---------------------------------------------------

HEAD_LINES = st.lists(
    st.tuples(st.from_regex(r"x-[a-z]{1,12}", fullmatch=True), st.integers(0, 24_000)),
    max_size=130,
)


def _exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` (as far as the server lets us) and read the answer until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(data)
        sock.settimeout(10)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
        return answer


def test_request_heads_around_the_bounds_are_served_or_refused_cleanly(
    fuzz_gateway: GatewayServer,
) -> None:
    """Any head: over 100 lines a 400, within 64 KiB and 100 lines served, between the two
    (a head read whole in one go may pass the byte bound by one read) either; never a hang."""
    port = fuzz_gateway.server.config.port

    @FUZZ
    @given(lines=HEAD_LINES)
    def run(lines: list[tuple[str, int]]) -> None:
        fields = b"".join(b"%s: %s\r\n" % (n.encode(), b"v" * size) for n, size in lines)
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"Connection: close\r\n\r\n"
        answer = _exchange(port, head)
        status = answer[:12]
        if len(lines) + 2 > MAX_HEADERS:
            assert status == b"HTTP/1.1 400", answer[:200]
        elif len(head) <= MAX_HEADER_BYTES:
            assert status == b"HTTP/1.1 200", answer[:200]
        else:
            assert status in (b"HTTP/1.1 200", b"HTTP/1.1 400"), answer[:200]
        if status == b"HTTP/1.1 400":
            assert_openai_error(answer.partition(b"\r\n\r\n")[2], status=400)

    run()


def test_message_and_tool_counts_around_the_caps(http: httpx.Client) -> None:
    @FUZZ
    @given(messages=st.integers(1, 2 * FUZZ_MAX_MESSAGES), tools=st.integers(0, 2 * FUZZ_MAX_TOOLS))
    def run(messages: int, tools: int) -> None:
        body: dict[str, Any] = {
            "model": "haiku",
            "messages": [{"role": "user", "content": "hi"}] * messages,
        }
        if tools:
            body["tools"] = [
                {"type": "function", "function": {"name": f"f{i}"}} for i in range(tools)
            ]
        response = _post(http, orjson.dumps(body))
        if messages > FUZZ_MAX_MESSAGES:
            assert response.status_code == 400
            assert response.json()["error"]["param"] == "messages"
        elif tools > FUZZ_MAX_TOOLS:
            assert response.status_code == 400
            assert response.json()["error"]["param"] == "tools"
        else:
            assert response.status_code == 200, response.text[:300]
            ChatCompletion.model_validate(response.json())

    run()
