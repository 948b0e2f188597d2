"""The analyst dashboard: a read-only Starlette app over the statistics store and the live calls.

Served by uvicorn from `ivr serve`. Every page draws from the same JSON API that outside tools use,
so what an analyst sees and what a script reads cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import sqlalchemy as sa
import structlog
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ivr_engine.config import ConfigError, WebSettings
from ivr_engine.flow.model import Flow
from ivr_engine.metrics import LiveCalls
from ivr_engine.stats.store import StatsStore, database_reason
from ivr_engine.web import live, login, stats_api, stats_pages
from ivr_engine.web import queues as queue_pages
from ivr_engine.web.auth import TokenCheck, TokenGate
from ivr_engine.web.headers import SecurityHeaders
from ivr_engine.web.health import HealthCheck, health_endpoint, metrics_endpoint
from ivr_engine.web.templating import STATIC_DIR, templates

logger = structlog.get_logger(__name__)

# The login form has no attempt limit, so the token itself must resist guessing.
MIN_TOKEN_LENGTH = 16


def _public_paths(settings: WebSettings) -> Callable[[str], bool]:
    always = {"/healthz", "/login"} | ({"/metrics"} if settings.metrics_public else set())

    def public(path: str) -> bool:
        return path in always or path.startswith("/static/")

    return public


async def _http_error(request: Request, exc: Exception) -> Response:
    """Tools get the reason as JSON, people an error page; both name what was wrong."""
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
    heading = "Not found" if exc.status_code == 404 else "Cannot show this page"
    return templates.TemplateResponse(
        request, "error.html", {"heading": heading, "message": exc.detail}, status_code=exc.status_code
    )


async def _database_error(request: Request, exc: Exception) -> Response:
    """The statistics database failing is the service being unavailable, not a bug of the page: 503,
    with the reason, so whoever looks knows whom to call."""
    assert isinstance(exc, sa.exc.SQLAlchemyError)
    reason = database_reason(exc)
    logger.error("web.stats_database_error", path=request.url.path, error=reason)
    message = f"the statistics database cannot be read: {reason}"
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=503)
    return templates.TemplateResponse(
        request, "error.html", {"heading": "Statistics unavailable", "message": message}, status_code=503
    )


def create_app(
    settings: WebSettings,
    *,
    stats_store: StatsStore,
    flows: Callable[[], Iterable[Flow]],
    registry: CollectorRegistry,
    live_calls: LiveCalls,
    checks: Mapping[str, HealthCheck] | None = None,
    queues: Callable[[], Mapping[str, object]] | None = None,
) -> Starlette:
    """The dashboard app.

    `flows` returns the flows in service (e.g. `lambda: library.flows().values()`); it is called on
    every request, so a hot reload is seen at once. `checks` are the components /healthz reports.
    `queues` is the ACD queue snapshot (QueueMonitor.snapshot), None when AMI is off.
    Raises ConfigError when the token is missing or short: the dashboard never runs open.
    """
    if len(settings.token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"IVR_WEB_TOKEN is {'too short' if settings.token else 'not set'}: the dashboard needs a"
            f" login token of at least {MIN_TOKEN_LENGTH} characters (e.g. `openssl rand -hex 16`)"
        )
    routes = [
        Route("/healthz", health_endpoint(checks or {}), name="healthz"),
        Route("/metrics", metrics_endpoint(registry), name="metrics"),
        Route("/login", login.login_form, methods=["GET"], name="login_form"),
        Route("/login", login.login, methods=["POST"], name="login"),
        Route("/logout", login.logout, methods=["POST"], name="logout"),
        Route("/live", live.live_page, name="live_page"),
        Route("/api/live", live.api_live, name="api_live"),
        Route("/queues", queue_pages.queues_page, name="queues_page"),
        Route("/api/queues", queue_pages.api_queues, name="api_queues"),
        *stats_pages.routes,
        *stats_api.routes,
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    token_check = TokenCheck(settings.token)
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, sa.exc.SQLAlchemyError: _database_error},
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(TokenGate, check=token_check, public=_public_paths(settings)),
        ],
    )
    app.state.token_check = token_check
    app.state.stats_store = stats_store
    app.state.flows = flows
    app.state.live_calls = live_calls
    app.state.queues = queues
    return app
