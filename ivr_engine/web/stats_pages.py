"""The statistics pages: the overview of every flow, and one flow's heatmap, nodes and times."""

from __future__ import annotations

from urllib.parse import urlencode

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ivr_engine.web import figures
from ivr_engine.web.heatmap import legend_svg
from ivr_engine.web.histogram import bin_seconds, histogram_svg
from ivr_engine.web.query import FlowRequest, loaded_flows, query_of
from ivr_engine.web.templating import templates


def _query_string(params: dict[str, str]) -> str:
    return f"?{urlencode(params)}" if params else ""


async def overview(request: Request) -> Response:
    query = query_of(request)
    store = request.app.state.stats_store
    flows = loaded_flows(request)
    rows = []
    for flow_id in sorted(flows):
        target = FlowRequest(flows[flow_id], query)
        rows.append({"flow": target.flow, "summary": await run_in_threadpool(figures.summary, store, target)})
    return templates.TemplateResponse(
        request,
        "overview.html",
        {
            "rows": rows,
            "query": query,
            "versions": None,
            "query_string": _query_string(query.as_params()),
            "live_count": len(request.app.state.live_calls),
        },
    )


async def flow_page(request: Request) -> Response:
    target = FlowRequest.of(request)
    page = await run_in_threadpool(figures.flow_page, request.app.state.stats_store, target)
    times = page.time_to_leaf
    markers = [("mean", times.mean_seconds), ("P95", times.p95_seconds)]
    flow_id = target.flow.id
    query_string = _query_string(target.query.as_params())
    version = target.query.version
    tree_note = (
        f"Statistics of version {version} drawn on the tree of version {target.flow.version}, the one"
        " in service; nodes that version no longer has appear only in the node table."
        if version and version != target.flow.version
        else None
    )
    return templates.TemplateResponse(
        request,
        "flow.html",
        {
            "flow": target.flow,
            "query": target.query,
            "versions": page.versions,
            "summary": page.summary,
            "paths": page.paths,
            "time_to_leaf": times,
            "personal": page.personal,
            "personal_api": request.app.url_path_for("api_personal", flow_id=flow_id) + query_string,
            # Both drawn here from numbers and escaped text only (heatmap.py, histogram.py).
            "histogram": Markup(
                histogram_svg(
                    bin_seconds(times.seconds), markers=[(n, s) for n, s in markers if s is not None]
                )
            ),
            "legend": Markup(legend_svg(page.most_hits)),
            "tree_note": tree_note,
            "heatmap_url": request.app.url_path_for("api_heatmap", flow_id=flow_id) + query_string,
            "nodes_api": request.app.url_path_for("api_nodes", flow_id=flow_id) + query_string,
        },
    )


routes = [
    Route("/", overview, name="overview"),
    Route("/flows/{flow_id}", flow_page, name="flow_page"),
]
