"""Providers: fetching an image URL for a vision request, with SSRF protection."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable

import aiohttp
from yarl import URL

from gateway.errors import InvalidRequestError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressCheck = Callable[[IPAddress], bool]

MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CONTENT_TYPES = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/pjpeg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
_CHUNK = 65536
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public_address(address: IPAddress) -> bool:
    """True when the address may be fetched: a globally routable unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is None and address in _NAT64:
            mapped = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if mapped is not None:
            return is_public_address(mapped)
        if address.teredo is not None or address.is_site_local:
            return False
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def sniff_format(data: bytes) -> str | None:
    """png|jpeg|gif|webp from the magic bytes, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _describe(url: URL) -> str:
    """The URL without query or credentials, for error messages."""
    return f"{url.scheme}://{url.host}{url.path}"[:200]


async def _vetted_address(url: URL, allowed: AddressCheck) -> IPAddress:
    """Resolve the URL's host and return one address, refusing any non-public answer."""
    if url.scheme not in ("http", "https"):
        raise InvalidRequestError(f"image URL scheme {url.scheme!r} is not allowed (http/https)")
    host = url.host
    if not host:
        raise InvalidRequestError("image URL has no host")
    if url.user is not None or url.password is not None:
        raise InvalidRequestError("image URL must not carry credentials")
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        addresses = await _resolve(host, url.port or 0)
    for address in addresses:
        if not allowed(address):
            raise InvalidRequestError(
                f"image URL host {host} resolves to a non-public address ({address}); refused"
            )
    return addresses[0]


async def _resolve(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise InvalidRequestError(f"image URL host {host} cannot be resolved") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise InvalidRequestError(f"image URL host {host} cannot be resolved")
    return addresses


def _pinned(url: URL, address: IPAddress) -> tuple[URL, dict[str, str], str | None]:
    """The URL aimed at the vetted address, its Host header and the TLS server name."""
    host = url.host or ""
    default_port = 443 if url.scheme == "https" else 80
    host_header = host if url.port in (None, default_port) else f"{host}:{url.port}"
    pinned = url.with_host(str(address))
    server_hostname = host if url.scheme == "https" else None
    return pinned, {"Host": host_header, "Accept": "image/*"}, server_hostname


async def _read_limited(response: aiohttp.ClientResponse, max_bytes: int, where: str) -> bytes:
    length = response.content_length
    if length is not None and length > max_bytes:
        raise InvalidRequestError(f"image at {where} is larger than {max_bytes} bytes")
    data = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        data += chunk
        if len(data) > max_bytes:
            raise InvalidRequestError(f"image at {where} is larger than {max_bytes} bytes")
    return bytes(data)


def _image_format(content_type: str, data: bytes, where: str) -> str:
    sniffed = sniff_format(data)
    if sniffed is not None:
        return sniffed
    declared = _CONTENT_TYPES.get(content_type.split(";", 1)[0].strip().lower())
    if declared is not None:
        return declared
    raise InvalidRequestError(
        f"image at {where} is not png, jpeg, gif or webp (content type {content_type[:60]!r})"
    )


async def _fetch(
    session: aiohttp.ClientSession, url: URL, max_bytes: int, allowed: AddressCheck
) -> tuple[str, bytes]:
    for _hop in range(MAX_REDIRECTS + 1):
        where = _describe(url)
        address = await _vetted_address(url, allowed)
        target, headers, server_hostname = _pinned(url, address)
        async with session.get(
            target, headers=headers, allow_redirects=False, server_hostname=server_hostname
        ) as response:
            if response.status in _REDIRECTS:
                location = response.headers.get("Location")
                if not location:
                    raise InvalidRequestError(f"image at {where} redirects without a Location")
                url = url.join(URL(location))
                continue
            if response.status != 200:
                raise InvalidRequestError(f"image at {where} answered HTTP {response.status}")
            data = await _read_limited(response, max_bytes, where)
            return _image_format(response.headers.get("Content-Type", ""), data, where), data
    raise InvalidRequestError(f"image URL redirects more than {MAX_REDIRECTS} times")


async def fetch_image(
    session: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int = 3_750_000,
    timeout: float = 10.0,
    address_allowed: AddressCheck = is_public_address,
) -> tuple[str, bytes]:
    """Download an image URL: ``(format, bytes)`` with format png|jpeg|gif|webp.

    Only http(s) to public addresses: the host is resolved here, every address vetted, and
    the connection pinned to the vetted address (no second lookup to rebind); each redirect
    (at most 3) is vetted again. ``address_allowed`` exists for tests on loopback.
    Failures raise ``InvalidRequestError`` naming the problem.
    """
    try:
        parsed = URL(url)
    except (ValueError, TypeError) as exc:
        raise InvalidRequestError("image URL is not a valid URL") from exc
    try:
        async with asyncio.timeout(timeout):
            return await _fetch(session, parsed, max_bytes, address_allowed)
    except TimeoutError as exc:
        raise InvalidRequestError(
            f"image at {_describe(parsed)} did not download within {timeout:g}s"
        ) from exc
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise InvalidRequestError(
            f"image at {_describe(parsed)} could not be fetched ({type(exc).__name__})"
        ) from exc
