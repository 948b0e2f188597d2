"""ACD queues for supervisors: the page and its JSON, both read from the queue monitor's snapshot.

`/api/queues` answers `{"queues": [...], "members": [...]}`. Each queue is the monitor's snapshot
(QueueMonitor.snapshot) under its name, sorted by name, plus its agent counts as flat
`agents_<state>` fields; "members" lists every queue's members once more, each with its queue.
The flat copies exist because tables.js fills a table from one list of flat rows.

Without AMI (`ami.enabled: false`) there is no snapshot: the page says so and the API answers 404.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ivr_engine.web.templating import templates

QueuesSnapshot = Callable[[], Mapping[str, object]]

REFRESH_SECONDS = 3
AMI_OFF = "Queue figures are off: AMI is not enabled (ami.enabled in the configuration)."


def queues_json(snapshot: Mapping[str, object]) -> dict[str, list[dict[str, Any]]]:
    queues: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    for name in sorted(snapshot):
        figures = cast(Mapping[str, Any], snapshot[name])
        agents = {f"agents_{state}": count for state, count in figures["agents"].items()}
        queues.append({"name": name, **figures, **agents})
        members.extend({"queue": name, **member} for member in figures["members"])
    return {"queues": queues, "members": members}


def _snapshot(request: Request) -> QueuesSnapshot | None:
    return cast("QueuesSnapshot | None", request.app.state.queues)


async def api_queues(request: Request) -> Response:
    snapshot = _snapshot(request)
    if snapshot is None:
        raise HTTPException(404, AMI_OFF)
    return JSONResponse(queues_json(snapshot()))


async def queues_page(request: Request) -> Response:
    return templates.TemplateResponse(
        request,
        "queues.html",
        {
            "refresh_seconds": REFRESH_SECONDS,
            "ami_off": AMI_OFF if _snapshot(request) is None else None,
        },
    )
