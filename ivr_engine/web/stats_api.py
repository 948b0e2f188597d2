"""The statistics JSON API under /api/flows: what the dashboard pages draw, for outside tools too.

Every endpoint takes the same filters (`version`, `since`, `until`, see query.py) and answers 404
for a flow that is not loaded, 400 for a malformed filter, naming the parameter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ivr_engine.web import figures
from ivr_engine.web.histogram import bin_seconds
from ivr_engine.web.query import FlowRequest, loaded_flows

T = TypeVar("T")
# The SVG is opened on its own too (the heatmap links to it): no script may run in it even then.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


async def api_flows(request: Request) -> Response:
    store = request.app.state.stats_store
    flows = loaded_flows(request)
    listed = []
    for flow_id in sorted(flows):
        flow = flows[flow_id]
        versions = await run_in_threadpool(figures.versions, store, flow_id)
        listed.append({"id": flow.id, "title": flow.title, "version": flow.version, "versions": versions})
    return JSONResponse({"flows": listed})


def _flow_json(
    figure: Callable[[Any, FlowRequest], T], to_json: Callable[[T], dict[str, Any]]
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint answering `figure` for the flow in the path, as JSON with the filters echoed."""

    async def endpoint(request: Request) -> Response:
        target = FlowRequest.of(request)
        result = await run_in_threadpool(figure, request.app.state.stats_store, target)
        return JSONResponse({**target.echo(), **to_json(result)})

    return endpoint


def time_to_leaf_json(times: figures.TimeToLeaf) -> dict[str, Any]:
    return {
        "count": times.count,
        "mean_seconds": times.mean_seconds,
        "p95_seconds": times.p95_seconds,
        "bins": [asdict(b) for b in bin_seconds(times.seconds)],
    }


async def api_heatmap(request: Request) -> Response:
    target = FlowRequest.of(request)
    svg = await run_in_threadpool(figures.heatmap, request.app.state.stats_store, target)
    return Response(svg, media_type="image/svg+xml", headers={"Content-Security-Policy": SVG_POLICY})


routes = [
    Route("/api/flows", api_flows, name="api_flows"),
    Route(
        "/api/flows/{flow_id}/summary",
        _flow_json(figures.summary, lambda summary: {"summary": asdict(summary)}),
        name="api_summary",
    ),
    Route(
        "/api/flows/{flow_id}/nodes",
        _flow_json(figures.node_rows, lambda rows: {"nodes": [asdict(r) for r in rows]}),
        name="api_nodes",
    ),
    Route(
        "/api/flows/{flow_id}/time-to-leaf",
        _flow_json(figures.time_to_leaf, time_to_leaf_json),
        name="api_time_to_leaf",
    ),
    Route(
        "/api/flows/{flow_id}/paths",
        _flow_json(figures.common_paths, lambda paths: {"paths": [asdict(p) for p in paths]}),
        name="api_paths",
    ),
    Route(
        "/api/flows/{flow_id}/personal",
        _flow_json(figures.personal_use, lambda use: {"personal": asdict(use)}),
        name="api_personal",
    ),
    Route("/api/flows/{flow_id}/heatmap.svg", api_heatmap, name="api_heatmap"),
]
