"""Sign in with the dashboard token, sign out.

The form is parsed by hand (it is one urlencoded field pair), which spares a multipart dependency.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ivr_engine.web.auth import SESSION_COOKIE, SESSION_SECONDS, TokenCheck, safe_next
from ivr_engine.web.templating import templates

MAX_FORM_BYTES = 4096
logger = structlog.get_logger(__name__)


async def login_form(request: Request) -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"next": safe_next(request.query_params.get("next")), "error": None}
    )


async def login(request: Request) -> Response:
    body = await request.body()
    form = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"))
    target = safe_next(form.get("next", ["/"])[0])
    check: TokenCheck = request.app.state.token_check
    if not check.matches(form.get("token", [""])[0]):
        client = request.client.host if request.client else None
        logger.warning("dashboard login refused", client=client)
        return templates.TemplateResponse(
            request, "login.html", {"next": target, "error": "Wrong token."}, status_code=401
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        check.new_session(),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")
    return response
