"""Requests: prompts, OpenAI and Converse bodies, SigV4 headers, one-shot HTTP calls."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any, NamedTuple

import orjson

from bench_lib.config import (
    BEDROCK_ID,
    CLIENT_KEY,
    DIRECT_MARKS,
    FLOOR_TOKEN,
    MARKS,
    MAX_TOKENS,
    MODEL,
    PROMPT,
)
from bench_lib.wrk import UNIQUE_MARK


class Request(NamedTuple):
    """URL, body, headers and end mark of one request."""

    url: str
    body: bytes
    headers: dict[str, str]
    mark: str


def prompt_of(size: int | None, *, unique: bool = False) -> str:
    """The user message: the short prompt, or ``size`` bytes of words."""
    head = f"{UNIQUE_MARK} " if unique else ""
    if size is None:
        return head + PROMPT
    words = "the quick brown fox jumps over the lazy dog and keeps running "
    text = head + PROMPT + " " + words * (size // len(words) + 1)
    return text[:size]


def openai_body(stream: bool, prompt: str, temperature: float | None = None) -> bytes:
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": MAX_TOKENS,
    }
    if temperature is not None:
        body["temperature"] = temperature
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


def converse_body(prompt: str) -> bytes:
    return orjson.dumps(
        {
            "messages": [{"role": "user", "content": [{"text": prompt}]}],
            "inferenceConfig": {"maxTokens": MAX_TOKENS},
        }
    )


def sigv4_headers(url: str, body: bytes) -> dict[str, str]:
    """Headers of a SigV4-signed Converse call (valid 15 minutes), as the gateway sends it."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from gateway.emulator.credentials import (
        EMULATOR_ACCESS_KEY_ID,
        EMULATOR_REGION,
        EMULATOR_SECRET_ACCESS_KEY,
    )

    request = AWSRequest(
        method="POST", url=url, data=body, headers={"Content-Type": "application/json"}
    )
    credentials = Credentials(EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY)
    SigV4Auth(credentials, "bedrock", EMULATOR_REGION).add_auth(request)
    headers = {k: str(v) for k, v in request.headers.items()}
    headers["Host"] = url.split("/")[2]
    return headers


def direct_request(emulator_url: str, signed: bool, stream: bool, prompt: str) -> Request:
    """The emulator's own request: SigV4-signed as the gateway sends it, or bearer as the floor."""
    operation = "converse-stream" if stream else "converse"
    url = f"{emulator_url}/model/{BEDROCK_ID.replace(':', '%3A')}/{operation}"
    body = converse_body(prompt)
    if signed:
        headers = sigv4_headers(url, body)
    else:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {FLOOR_TOKEN}"}
    return Request(url, body, headers, DIRECT_MARKS[stream])


def proxy_request(
    proxy_url: str, keyed: bool, stream: bool, prompt: str, temperature: float | None = None
) -> Request:
    """An OpenAI chat request to a proxy, with the client key when ``keyed`` (the gateway)."""
    headers = {"Content-Type": "application/json"}
    if keyed:
        headers["Authorization"] = f"Bearer {CLIENT_KEY}"
    body = openai_body(stream, prompt, temperature)
    return Request(proxy_url + "/v1/chat/completions", body, headers, MARKS[("proxy", stream)])


def responses_request(
    gateway_url: str, stream: bool, prompt: str, temperature: float | None = None
) -> Request:
    """The same question as ``POST /v1/responses`` (``store: false``: the chat rows store
    nothing either)."""
    body: dict[str, Any] = {
        "model": MODEL,
        "input": prompt,
        "max_output_tokens": MAX_TOKENS,
        "store": False,
    }
    if temperature is not None:
        body["temperature"] = temperature
    if stream:
        body["stream"] = True
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {CLIENT_KEY}"}
    return Request(
        gateway_url + "/v1/responses", orjson.dumps(body), headers, MARKS[("responses", stream)]
    )


def http(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())
