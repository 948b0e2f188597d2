"""The filters every statistics page and API shares: flow version and time window, from the URL.

`?version=3&since=2026-11-01&until=2026-11-23T18:00` - dates and times are ISO 8601; a time without
an offset is UTC (what the browser's datetime-local input sends), a bare date means its midnight.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ivr_engine.flow.model import Flow
from ivr_engine.stats import reports


class BadQuery(ValueError):
    """A query parameter is malformed; the message names the parameter."""


def parse_moment(name: str, text: str) -> dt.datetime:
    try:
        return reports.parse_moment(text)
    except reports.MomentOutOfRange as exc:
        raise BadQuery(f"{name}: {exc}") from None
    except ValueError:
        raise BadQuery(
            f"{name}: expected an ISO 8601 date or date-time such as 2026-11-23T08:00, got {text!r}"
        ) from None


@dataclass(frozen=True, slots=True)
class ReportQuery:
    version: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @classmethod
    def from_params(cls, params: QueryParams) -> ReportQuery:
        values = {name: (params.get(name) or "").strip() or None for name in ("version", "since", "until")}
        since = parse_moment("since", values["since"]) if values["since"] else None
        until = parse_moment("until", values["until"]) if values["until"] else None
        if why := reports.empty_window(since, until):
            raise BadQuery(f"since: {why}")
        return cls(version=values["version"], since=since, until=until)

    def as_params(self) -> dict[str, str]:
        """The query string that reproduces this filter (for links between pages and the API)."""
        pairs = {"version": self.version, "since": self.since, "until": self.until}
        return {
            k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in pairs.items() if v
        }


@dataclass(frozen=True, slots=True)
class FlowRequest:
    """A request about one loaded flow: the flow named in the path and the filters."""

    flow: Flow
    query: ReportQuery

    @classmethod
    def of(cls, request: Request) -> FlowRequest:
        """Raises HTTPException 404 for a flow not loaded, 400 for a malformed filter."""
        flow_id = request.path_params["flow_id"]
        flow = loaded_flows(request).get(flow_id)
        if flow is None:
            raise HTTPException(404, f"no flow {flow_id!r} is loaded")
        return cls(flow, query_of(request))

    def echo(self) -> dict[str, str | None]:
        """The flow and filters an answer was computed for, so a saved answer says what it is."""
        return {"flow_id": self.flow.id, **dict.fromkeys(("version", "since", "until")), **self.query.as_params()}


def loaded_flows(request: Request) -> dict[str, Flow]:
    """The flows in service now, by flow id: asked on every request so a hot reload shows at once."""
    return {flow.id: flow for flow in request.app.state.flows()}


def query_of(request: Request) -> ReportQuery:
    try:
        return ReportQuery.from_params(request.query_params)
    except BadQuery as exc:
        raise HTTPException(400, str(exc)) from None
