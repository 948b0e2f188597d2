"""Calls in progress: the page and its JSON, both read from the observer's LiveCalls."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ivr_engine.metrics import LiveCall, LiveCalls
from ivr_engine.web.templating import templates

REFRESH_SECONDS = 2


def call_json(call: LiveCall) -> dict[str, Any]:
    data = asdict(call)
    for name in ("started_at", "node_since"):
        data[name] = data[name].isoformat() if data[name] else None
    return data


async def api_live(request: Request) -> Response:
    live: LiveCalls = request.app.state.live_calls
    calls = [call_json(call) for call in live.snapshot()]
    return JSONResponse({"count": len(calls), "calls": calls})


async def live_page(request: Request) -> Response:
    return templates.TemplateResponse(request, "live.html", {"refresh_seconds": REFRESH_SECONDS})
