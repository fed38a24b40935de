"""Unit tests: image URL fetching refuses non-public addresses and bounds what it downloads."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from gateway.errors import InvalidRequestError
from gateway.providers.image_fetch import fetch_image, is_public_address, sniff_format

ADDRESSES = [
    ("8.8.8.8", True),
    ("1.1.1.1", True),
    ("2606:4700:4700::1111", True),
    ("127.0.0.1", False),
    ("127.5.6.7", False),
    ("::1", False),
    ("10.1.2.3", False),
    ("172.16.0.1", False),
    ("192.168.1.1", False),
    ("100.64.0.1", False),  # carrier-grade NAT
    ("169.254.169.254", False),  # cloud metadata, link-local
    ("fe80::1", False),
    ("fc00::1", False),
    ("fd12:3456::1", False),
    ("fec0::1", False),  # site-local
    ("224.0.0.1", False),
    ("239.255.255.250", False),
    ("ff02::1", False),
    ("0.0.0.0", False),
    ("::", False),
    ("240.0.0.1", False),  # reserved
    ("255.255.255.255", False),
    ("192.0.2.1", False),  # documentation
    ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
    ("::ffff:10.0.0.1", False),
    ("::ffff:169.254.169.254", False),
    ("::ffff:8.8.8.8", True),
    ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
    ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
]


@pytest.mark.parametrize(("text", "public"), ADDRESSES)
def test_address_vetting(text: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(text)) is public


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"\x89PNG\r\n\x1a\n....", "png"),
        (b"\xff\xd8\xff\xe0....", "jpeg"),
        (b"GIF89a....", "gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"<html>", None),
    ],
)
def test_sniff_format(data: bytes, fmt: str | None) -> None:
    assert sniff_format(data) == fmt


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


@pytest.fixture
async def image_server() -> AsyncIterator[str]:
    async def png(request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="application/octet-stream")

    async def typed(request: web.Request) -> web.Response:
        return web.Response(body=b"\x00\x01", content_type="image/webp")

    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html></html>", content_type="text/html")

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(20):
            await response.write(b"\xff\xd8\xff" + b"\x00" * 1000)
        return response

    async def redirect(request: web.Request) -> web.Response:
        hops = int(request.match_info["n"])
        target = "/png" if hops == 0 else f"/redirect/{hops - 1}"
        raise web.HTTPFound(target)

    async def to_private(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://10.0.0.1/secret")

    async def missing(request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/png", png)
    app.router.add_get("/typed", typed)
    app.router.add_get("/html", html)
    app.router.add_get("/big", big)
    app.router.add_get("/redirect/{n}", redirect)
    app.router.add_get("/to-private", to_private)
    app.router.add_get("/missing", missing)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


def _loopback_only(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address == ipaddress.ip_address("127.0.0.1")


async def test_loopback_is_refused_by_default(image_server: str) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(InvalidRequestError, match="non-public address"):
            await fetch_image(session, image_server + "/png?token=secret")
        with pytest.raises(InvalidRequestError) as info:
            await fetch_image(session, "http://localhost:1/x?token=secret")
        assert "secret" not in info.value.message


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/a.png", "gopher://x/", "http:///nohost"]
)
async def test_other_schemes_are_refused(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(InvalidRequestError):
            await fetch_image(session, url)


@pytest.mark.parametrize(
    ("path", "fmt"), [("/png", "png"), ("/typed", "webp"), ("/redirect/2", "png")]
)
async def test_fetch_with_an_allow_hook(image_server: str, path: str, fmt: str) -> None:
    async with aiohttp.ClientSession() as session:
        got_fmt, data = await fetch_image(
            session, image_server + path, address_allowed=_loopback_only
        )
    assert got_fmt == fmt
    assert data == (PNG if fmt == "png" else b"\x00\x01")


@pytest.mark.parametrize(
    ("path", "match"),
    [
        ("/redirect/3", "more than 3"),
        ("/to-private", r"10\.0\.0\.1"),
        ("/big", "larger than 5000 bytes"),
        ("/html", "not png"),
        ("/missing", "HTTP 404"),
    ],
)
async def test_fetch_refusals(image_server: str, path: str, match: str) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(InvalidRequestError, match=match):
            await fetch_image(
                session, image_server + path, max_bytes=5000, address_allowed=_loopback_only
            )


async def test_connection_refused_is_an_invalid_request() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(InvalidRequestError, match="could not be fetched"):
            await fetch_image(session, "http://127.0.0.1:9/x.png", address_allowed=_loopback_only)
