"""Load: Locust users for plain, streamed, cached-repeat and tool-call traffic across routes."""

from __future__ import annotations

import json
import logging
import os
import random
import time
from typing import Any

import requests
from locust import HttpUser, between, events, task
from locust.env import Environment

LOG = logging.getLogger("load")

API_KEY = os.environ.get("OPENAI_API_KEY", "")
ROUTES = [r.strip() for r in os.environ.get("GATEWAY_LOAD_ROUTES", "cheap,fast,auto").split(",")]
ROUTES = [r for r in ROUTES if r]
TOOL_ROUTES = [r for r in os.environ.get("GATEWAY_LOAD_TOOL_ROUTES", "").split(",") if r] or ROUTES
MAX_TOKENS = int(os.environ.get("GATEWAY_LOAD_MAX_TOKENS", "64"))
WAIT_MIN, WAIT_MAX = (float(x) for x in os.environ.get("GATEWAY_LOAD_WAIT_S", "0.1,1.0").split(","))
CACHE_HEADER_VALUES = {"hit", "miss", "bypass", "off"}

TOPICS = ("the tides", "binary search", "photosynthesis", "HTTP caching", "the Roman roads")
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def _weights() -> dict[str, int]:
    """GATEWAY_LOAD_WEIGHTS=plain=4,stream=3,cached=2,tools=1 (the defaults)."""
    weights = {"plain": 4, "stream": 3, "cached": 2, "tools": 1}
    for item in os.environ.get("GATEWAY_LOAD_WEIGHTS", "").split(","):
        name, sep, value = item.partition("=")
        if sep and name.strip() in weights:
            weights[name.strip()] = int(value)
    return weights


WEIGHTS = _weights()


class BadAnswer(Exception):
    """The gateway answered 200 with a body that is not OpenAI's shape."""


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise BadAnswer(what)


def check_completion(body: Any, *, tool_call: bool = False) -> dict[str, Any]:
    """A chat.completion body: one choice, a message, usage; returns the message."""
    _require(isinstance(body, dict) and body.get("object") == "chat.completion", "object")
    _require(isinstance(body.get("id"), str) and isinstance(body.get("model"), str), "id/model")
    choices = body.get("choices")
    _require(isinstance(choices, list) and len(choices) == 1, "choices")
    message: dict[str, Any] = choices[0].get("message")
    _require(isinstance(message, dict) and message.get("role") == "assistant", "message.role")
    usage = body.get("usage")
    _require(isinstance(usage, dict) and isinstance(usage.get("total_tokens"), int), "usage")
    if tool_call:
        _require(choices[0].get("finish_reason") == "tool_calls", "finish_reason tool_calls")
        calls: Any = message.get("tool_calls")
        _require(isinstance(calls, list) and len(calls) >= 1, "tool_calls")
        function = calls[0].get("function") or {}
        _require(function.get("name") == "get_weather", "tool_calls[0].function.name")
        _require(isinstance(json.loads(function.get("arguments") or "null"), dict), "arguments")
    else:
        _require(choices[0].get("finish_reason") in {"stop", "length"}, "finish_reason")
        _require(isinstance(message.get("content"), str) and message["content"] != "", "content")
    return message


class ChatUser(HttpUser):
    """Shared by every class: the key, the JSON post and the response checks."""

    abstract = True
    wait_time = between(WAIT_MIN, WAIT_MAX)

    def on_start(self) -> None:
        self.client.headers.update(
            {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        )

    def chat(self, name: str, body: dict[str, Any], *, tool_call: bool = False) -> Any:
        """POST a non-streamed chat body; returns the parsed body, or None on a failure."""
        with self.client.post(
            "/v1/chat/completions", data=json.dumps(body), name=name, catch_response=True
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"status {resp.status_code}: {resp.text[:200]}")
                return None
            try:
                parsed = resp.json()
                check_completion(parsed, tool_call=tool_call)
                route = resp.headers.get("x-gateway-route")
                _require(route is not None and route == body["model"], "x-gateway-route")
                _require(resp.headers.get("x-gateway-cache") in CACHE_HEADER_VALUES, "cache hdr")
            except (ValueError, BadAnswer, AttributeError, TypeError) as exc:
                resp.failure(f"bad answer ({exc}): {resp.text[:200]}")
                return None
            resp.success()
            return parsed


def _prompt() -> str:
    return f"In two sentences, explain {random.choice(TOPICS)}. ({random.random():.6f})"


class PlainUser(ChatUser):
    """Non-streamed chat completions across the routes, each prompt new (cache misses)."""

    weight = WEIGHTS["plain"]

    @task
    def plain(self) -> None:
        route = random.choice(ROUTES)
        self.chat(
            f"plain {route}",
            {
                "model": route,
                "messages": [{"role": "user", "content": _prompt()}],
                "max_tokens": MAX_TOKENS,
            },
        )


class CachedRepeatUser(ChatUser):
    """The same deterministic request (temperature 0) again and again: cache hits after one miss."""

    weight = WEIGHTS["cached"]

    @task
    def cached(self) -> None:
        route = random.choice(ROUTES)
        topic = random.choice(TOPICS[:2])
        self.chat(
            f"cached {route}",
            {
                "model": route,
                "temperature": 0,
                "messages": [
                    {"role": "system", "content": "Answer briefly."},
                    {"role": "user", "content": f"What is {topic}?"},
                ],
                "max_tokens": MAX_TOKENS,
            },
        )


class ToolCallUser(ChatUser):
    """A forced tool call, then the tool's result sent back for the final answer."""

    weight = WEIGHTS["tools"]

    @task
    def tools(self) -> None:
        route = random.choice(TOOL_ROUTES)
        city = random.choice(("Paris", "Lima", "Osaka", "Nairobi"))
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": f"What is the weather in {city}? Use get_weather."}
        ]
        first = self.chat(
            f"tools call {route}",
            {
                "model": route,
                "messages": messages,
                "tools": [WEATHER_TOOL],
                "tool_choice": "required",
                "max_tokens": MAX_TOKENS,
            },
            tool_call=True,
        )
        if first is None:
            return
        call = first["choices"][0]["message"]["tool_calls"][0]
        messages.append(first["choices"][0]["message"])
        messages.append(
            {"role": "tool", "tool_call_id": call["id"], "content": f"18 C and sunny in {city}"}
        )
        self.chat(
            f"tools result {route}",
            {
                "model": route,
                "messages": messages,
                "tools": [WEATHER_TOOL],
                "max_tokens": MAX_TOKENS,
            },
        )


class StreamUser(ChatUser):
    """Streamed completions; time to first token is its own Locust entry (type TTFT)."""

    weight = WEIGHTS["stream"]

    @task
    def stream(self) -> None:
        route = random.choice(ROUTES)
        body = {
            "model": route,
            "messages": [{"role": "user", "content": _prompt()}],
            "max_tokens": MAX_TOKENS,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        name = f"stream {route}"
        started = time.perf_counter()
        with self.client.post(
            "/v1/chat/completions",
            data=json.dumps(body),
            name=name,
            stream=True,
            catch_response=True,
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"status {resp.status_code}: {resp.text[:200]}")
                return
            try:
                ttft, size = self._read_stream(resp, started)
            except (BadAnswer, ValueError, requests.RequestException) as exc:
                resp.failure(f"bad stream: {exc}")
                return
            # The entry of the whole stream: headers to [DONE], not only to the headers.
            resp.request_meta["response_time"] = (time.perf_counter() - started) * 1000
            resp.request_meta["response_length"] = size
            resp.success()
        events.request.fire(  # type: ignore[no-untyped-call]
            request_type="TTFT",
            name=name,
            response_time=ttft * 1000,
            response_length=0,
            response=None,
            context={},
            exception=None,
        )

    @staticmethod
    def _read_stream(resp: requests.Response, started: float) -> tuple[float, int]:
        """Parse the SSE stream by hand: (seconds from ``started`` to the first content, bytes)."""
        first_token: float | None = None
        size = 0
        text: list[str] = []
        finish: str | None = None
        usage = False
        done = False
        for raw in resp.iter_lines():
            size += len(raw) + 1
            line = raw.decode("utf-8")
            if not line or line.startswith(":"):
                continue
            _require(line.startswith("data: "), f"not an SSE data line: {line[:80]}")
            data = line[len("data: ") :]
            if data == "[DONE]":
                done = True
                break
            chunk = json.loads(data)
            _require("error" not in chunk, f"error event: {data[:200]}")
            _require(chunk.get("object") == "chat.completion.chunk", "chunk object")
            usage = usage or isinstance(chunk.get("usage"), dict)
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    if first_token is None:
                        first_token = time.perf_counter() - started
                    text.append(delta["content"])
                finish = choice.get("finish_reason") or finish
        _require(done, "stream ended without [DONE]")
        _require(first_token is not None and "".join(text) != "", "no content delta")
        _require(finish in {"stop", "length"}, f"finish_reason {finish}")
        _require(usage, "no usage chunk (stream_options.include_usage)")
        assert first_token is not None
        return first_token, size


@events.test_start.add_listener  # type: ignore[untyped-decorator]
def _check_setup(environment: Environment, **_: Any) -> None:
    if not API_KEY:
        LOG.error("OPENAI_API_KEY is not set: every request would be a 401")
        if environment.runner is not None:
            environment.runner.quit()
    if not ROUTES:
        LOG.error("GATEWAY_LOAD_ROUTES is empty")
