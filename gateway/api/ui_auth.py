"""API: who may see ``/ui`` — the admin key, checked in constant time and never in a URL.

A browser signs in once through a small form (``POST /ui/login``); the answer sets an
``HttpOnly; SameSite=Strict`` cookie scoped to ``/ui`` whose value is derived from the admin
key's hash (an HMAC), so no key sits in the browser's history, a proxy's log or the page, and
every worker checks the cookie without shared session state. Changing the admin key signs every
browser out. A script may send ``Authorization: Bearer <admin key>`` instead. ``--demo`` asks
for the admin key too: it prints it on start.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.api.deps import read_bounded
from gateway.config import sha256_hex
from gateway.service.state import GatewayState

COOKIE = "gateway_ui"
COOKIE_MAX_AGE_S = 8 * 3600
#: A login form is a few dozen bytes; anything larger is not one.
MAX_FORM_BYTES = 4096
_SESSION_CONTEXT = b"gateway /ui session v1"


def session_token(admin_key_hash: str) -> str:
    """The cookie value: an HMAC of a fixed context under the admin key's hash."""
    return hmac.new(admin_key_hash.encode(), _SESSION_CONTEXT, hashlib.sha256).hexdigest()


def _key_matches(key: str, state: GatewayState) -> bool:
    expected = state.admin_key_hash
    return expected is not None and hmac.compare_digest(sha256_hex(key), expected)


def signed_in(request: Request, state: GatewayState) -> bool:
    """A valid session cookie, or the admin key as a bearer token."""
    if state.admin_key_hash is None:
        return False
    cookie = request.cookies.get(COOKIE)
    if cookie is not None and hmac.compare_digest(cookie, session_token(state.admin_key_hash)):
        return True
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and _key_matches(token.strip(), state)


def _headers(nonce: str) -> dict[str, str]:
    csp = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; img-src data:; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    return {
        "content-security-policy": csp,
        "cache-control": "no-store",
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
    }


def login_page(message: str, status: int) -> Response:
    """The sign-in form (a POST: the key travels in the body, never in the URL)."""
    nonce = secrets.token_urlsafe(16)
    form = (
        '<form method="post" action="/ui/login"><label>Admin key '
        '<input type="password" name="key" autocomplete="current-password" autofocus required>'
        '</label> <button type="submit">Sign in</button></form>'
        if status != 403
        else ""
    )
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bedrock gateway: sign in</title>
<link rel="icon" href="data:,"><style nonce="{nonce}">body{{font:14px system-ui,sans-serif;
margin:2rem}}.msg{{color:#cf222e}}input{{font:inherit;width:22rem}}</style></head><body>
<h1>Bedrock gateway</h1><p class="msg" id="login-message">{html.escape(message)}</p>{form}
</body></html>"""
    return Response(body, status, media_type="text/html; charset=utf-8", headers=_headers(nonce))


def refusal(state: GatewayState, request: Request) -> Response:
    """Why the page is not shown, with the form when signing in can help."""
    if state.admin_key_hash is None:
        return login_page("The page is disabled: GATEWAY_ADMIN_KEY is not set.", 403)
    if request.headers.get("authorization") or request.cookies.get(COOKIE):
        return login_page("Incorrect admin key provided.", 401)
    return login_page("Sign in with the gateway's admin key (GATEWAY_ADMIN_KEY).", 401)


async def login(request: Request, state: GatewayState) -> Response:
    """``POST /ui/login``: the right key sets the cookie and goes to /ui; a wrong one is 401."""
    if state.admin_key_hash is None:
        return refusal(state, request)
    raw = await read_bounded(request, MAX_FORM_BYTES)  # 413 past the limit, read no further
    values = parse_qs(raw.decode("utf-8", "replace")).get("key", [""])
    if not _key_matches(values[0], state):
        return login_page("Incorrect admin key provided.", 401)
    response = RedirectResponse("/ui", status_code=303)
    response.set_cookie(
        COOKIE,
        session_token(state.admin_key_hash),
        max_age=COOKIE_MAX_AGE_S,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.headers["cache-control"] = "no-store"
    return response
