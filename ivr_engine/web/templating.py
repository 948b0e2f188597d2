"""The Jinja2 environment of the dashboard: autoescaping on for every template, no exceptions.

Node titles come from flow files and caller data from the network; both reach pages, so nothing is
ever marked safe except SVG this package drew itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from ivr_engine.web.auth import TokenCheck
from ivr_engine.web.query import loaded_flows

_HERE = Path(__file__).parent


@jinja2.pass_context
def _path_for(context: dict[str, Any], name: str, /, **path_params: Any) -> str:
    # Relative to the site, unlike Starlette's url_for: links must not echo the Host header, and
    # must keep working behind a reverse proxy.
    request: Request = context["request"]
    return str(request.app.url_path_for(name, **path_params))


def _common(request: Request) -> dict[str, Any]:
    check: TokenCheck = request.app.state.token_check
    return {
        "signed_in": check.allows(request.headers, request.cookies),
        "flow_ids": sorted(loaded_flows(request)),
    }


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,  # a misspelt variable is an error, not an empty cell
)
_env.globals["url_for"] = _path_for
_env.filters["percent"] = lambda share: "–" if share is None else f"{share * 100:.1f} %"
_env.filters["seconds"] = lambda seconds: "–" if seconds is None else f"{seconds:.1f} s"
templates = Jinja2Templates(env=_env, context_processors=[_common])
STATIC_DIR = _HERE / "static"
