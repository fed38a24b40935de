"""Floor proxy: the least a Python OpenAI→Converse proxy does (aiohttp in and out, orjson).

Per request: parse the OpenAI chat body → build a Converse body → one call on a pooled
aiohttp ClientSession (``Authorization: Bearer``, no SigV4, no routing, auth, metrics, logs,
validation or retries) → parse the answer → build the OpenAI answer. ``stream: true`` calls
ConverseStream, splits the AWS event-stream frames (length prefix, headers for the event type;
CRCs not checked) and relays each delta as one SSE event, then ``data: [DONE]``.

    python load/floor_proxy.py --port 9902 --upstream http://127.0.0.1:9901 --bearer-token T

``--pool-size`` caps its upstream connections (default 256; 0: no cap, what
``load/streams.py`` runs it with, so that its streams never wait for a connection).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
import uuid
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from aiohttp import web

MODELS = {"claude-3-haiku": "anthropic.claude-3-haiku-20240307-v1:0"}
FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}
SESSION = web.AppKey("session", aiohttp.ClientSession)
_HEADER_VALUE_SIZES = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}


def to_converse(body: dict[str, Any]) -> dict[str, Any]:
    """The Converse body for an OpenAI chat body (text messages only)."""
    system = []
    messages = []
    for message in body["messages"]:
        content = message["content"]
        text = content if isinstance(content, str) else "".join(p["text"] for p in content)
        if message["role"] in ("system", "developer"):
            system.append({"text": text})
        else:
            messages.append({"role": message["role"], "content": [{"text": text}]})
    converse: dict[str, Any] = {"messages": messages}
    if system:
        converse["system"] = system
    inference = {}
    if "max_tokens" in body:
        inference["maxTokens"] = body["max_tokens"]
    if "temperature" in body:
        inference["temperature"] = min(1.0, body["temperature"])
    if inference:
        converse["inferenceConfig"] = inference
    return converse


def event_type(headers: bytes) -> str:
    """The ``:event-type`` (or ``:exception-type``) header of an event-stream frame."""
    position = 0
    found = ""
    while position < len(headers):
        name_length = headers[position]
        name = headers[position + 1 : position + 1 + name_length]
        position += 1 + name_length
        value_type = headers[position]
        position += 1
        if value_type in (6, 7):
            size = int.from_bytes(headers[position : position + 2], "big")
            value = headers[position + 2 : position + 2 + size]
            position += 2 + size
            if name in (b":event-type", b":exception-type"):
                found = value.decode()
        else:
            position += _HEADER_VALUE_SIZES[value_type]
    return found


def _chunk(ident: str, created: int, model: str, delta: dict[str, Any], finish: Any) -> bytes:
    document = {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(document) + b"\n\n"


async def chat(request: web.Request) -> web.StreamResponse:
    body = orjson.loads(await request.read())
    model = MODELS.get(body["model"], body["model"])
    stream = bool(body.get("stream"))
    operation = "converse-stream" if stream else "converse"
    url = f"{request.app['upstream']}/model/{quote(model, safe='')}/{operation}"
    session = request.app[SESSION]
    upstream_body = orjson.dumps(to_converse(body))
    async with session.post(url, data=upstream_body, headers=request.app["headers"]) as answer:
        if answer.status != 200:
            raw = await answer.read()
            return web.Response(status=answer.status, body=raw, content_type="application/json")
        ident = "chatcmpl-" + uuid.uuid4().hex
        created = int(time.time())
        if not stream:
            document = orjson.loads(await answer.read())
            blocks = document["output"]["message"]["content"]
            usage = document["usage"]
            reply = {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": "".join(b.get("text", "") for b in blocks),
                        },
                        "finish_reason": FINISH.get(document["stopReason"], "stop"),
                    }
                ],
                "usage": {
                    "prompt_tokens": usage["inputTokens"],
                    "completion_tokens": usage["outputTokens"],
                    "total_tokens": usage["totalTokens"],
                },
            }
            return web.Response(body=orjson.dumps(reply), content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        buffer = bytearray()
        async for data in answer.content.iter_any():
            buffer += data
            while len(buffer) >= 12:
                total = int.from_bytes(buffer[0:4], "big")
                if len(buffer) < total:
                    break
                headers_length = int.from_bytes(buffer[4:8], "big")
                kind = event_type(bytes(buffer[12 : 12 + headers_length]))
                payload = orjson.loads(bytes(buffer[12 + headers_length : total - 4]))
                del buffer[:total]
                if kind == "messageStart":
                    out = _chunk(ident, created, model, {"role": "assistant", "content": ""}, None)
                elif kind == "contentBlockDelta":
                    text = payload["delta"].get("text", "")
                    out = _chunk(ident, created, model, {"content": text}, None)
                elif kind == "messageStop":
                    finish = FINISH.get(payload["stopReason"], "stop")
                    out = _chunk(ident, created, model, {}, finish)
                else:
                    continue
                await response.write(out)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _serve(host: str, port: int, upstream: str, token: str, pool_size: int) -> None:
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app["upstream"] = upstream.rstrip("/")
    app["headers"] = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=pool_size, keepalive_timeout=60)
    app[SESSION] = aiohttp.ClientSession(connector=connector, auto_decompress=False)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, backlog=4096, reuse_address=True).start()
    print(f"floor proxy on http://{host}:{port} → {upstream}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await app[SESSION].close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the emulator's URL")
    parser.add_argument("--bearer-token", default="floor", help="the emulator's bearer token")
    parser.add_argument(
        "--pool-size", type=int, default=256, help="upstream connections at most (0: no cap)"
    )
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        run = asyncio.run
    else:
        run = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        run(_serve(args.host, args.port, args.upstream, args.bearer_token, args.pool_size))


if __name__ == "__main__":
    main()
