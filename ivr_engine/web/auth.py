"""The dashboard's one shared login token, and the gate every request passes.

Statistics name callers' paths through the hotline, so nothing but the health check, the login page
and its static files is served without the token. A browser logs in once and then carries a cookie
that holds an expiry and an HMAC keyed by the token, never the token itself; rotating the token
(IVR_WEB_TOKEN) therefore ends every session. Tools send `Authorization: Bearer <token>` instead.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

SESSION_COOKIE = "ivr_session"
SESSION_SECONDS = 12 * 3600  # one working shift
# ASCII digits only, and few of them: str.isdigit() also takes "²", which int() refuses, and int()
# refuses more than 4,300 digits; either turned a crafted cookie into a 500 for anyone.
_EXPIRY = re.compile(r"[0-9]{1,12}")


def _digest(token: str, message: str) -> str:
    return hmac.new(token.encode(), message.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenCheck:
    token: str
    clock: Callable[[], float] = time.time

    def matches(self, offered: str) -> bool:
        # Compare digests, not the strings: compare_digest is only constant-time for equal lengths.
        return hmac.compare_digest(_digest(self.token, offered), _digest(self.token, self.token))

    def new_session(self) -> str:
        expires = int(self.clock()) + SESSION_SECONDS
        return f"{expires}.{_digest(self.token, f'session:{expires}')}"

    def valid_session(self, cookie: str) -> bool:
        expires, _, mac = cookie.partition(".")
        if not _EXPIRY.fullmatch(expires) or int(expires) < self.clock():
            return False
        # As bytes: compare_digest refuses a str with non-ASCII characters, which a cookie may carry.
        return hmac.compare_digest(mac.encode(), _digest(self.token, f"session:{expires}").encode())

    def allows(self, headers: Headers, cookies: dict[str, str]) -> bool:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials:
            return self.matches(credentials.strip())
        cookie = cookies.get(SESSION_COOKIE)
        return cookie is not None and self.valid_session(cookie)


def safe_next(target: str | None) -> str:
    """Where to go after login: only a path on this site, so the login form is no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class TokenGate:
    """ASGI middleware: lets `public` paths through, asks everything else for the token.

    Pages answer an anonymous browser with a redirect to the login form; /api/ and /metrics answer
    401 so tools see the failure instead of an HTML page.
    """

    def __init__(
        self, app: ASGIApp, *, check: TokenCheck, public: Callable[[str], bool]
    ) -> None:
        self.app = app
        self.check = check
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.public(scope["path"]):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        if self.check.allows(connection.headers, connection.cookies):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith("/api/") or path == "/metrics":
            response: JSONResponse | RedirectResponse = JSONResponse(
                {"error": "a dashboard token is required (Authorization: Bearer <token>)"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="ivr-dashboard"'},
            )
        else:
            wanted = path + (f"?{connection.url.query}" if connection.url.query else "")
            response = RedirectResponse(f"/login?next={quote(wanted, safe='')}", status_code=303)
        await response(scope, receive, send)
