from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from runtime_support import edit, hotline, simulate

from ivr_engine.flow import model as m


def looked_up(**lookup: object) -> m.Flow:
    """Case number -> lookup -> "open": case.found, anything else: closed, failure: the operator."""
    flow = hotline(
        m.Lookup(
            id="status",
            params=(("case", "case_number"),),
            result_variable="case_status",
            branches=(("open", "case.found"),),
            default="closed",
            on_error="agents",
            **lookup,  # type: ignore[arg-type]
        ),
        m.Announcement(id="closed", prompts=("goodbye",)),
    )
    return edit(flow, "case", next="status")


@pytest.mark.parametrize("hook", ["runtime_hooks:case_status", "runtime_hooks:case_status_async"])
async def test_hook_result_is_stored_and_selects_the_branch(hook: str) -> None:
    open_case = await simulate(looked_up(hook=hook), "4 123456", typeahead=True)
    assert open_case.result.path == ["root", "case", "status", "case.found"]
    assert open_case.result.variables["case_status"] == "open"
    assert open_case.channel.channel_variables["case_status"] == "open"
    closed = await simulate(looked_up(hook=hook), "4 923456", typeahead=True)
    assert closed.result.path[-1] == "closed"


@pytest.mark.parametrize(
    "hook",
    [
        "runtime_hooks:broken",
        "runtime_hooks:never_answers",
        "runtime_hooks:missing",
        "no_such_module:f",
        "runtime_hooks:NOT_CALLABLE",
        "not-a-spec",
    ],
)
async def test_hook_failure_or_timeout_goes_to_on_error(hook: str) -> None:
    call = await simulate(looked_up(hook=hook, timeout=0.05), "4 123456", typeahead=True)
    assert call.result.path == ["root", "case", "status", "agents"]
    assert "case_status" not in call.result.variables
    assert asyncio.all_tasks() == {asyncio.current_task()}


class _CaseService(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        case = parse_qs(url.query).get("case", [""])[0]
        if url.path == "/json":
            self.answer(200, "application/json", json.dumps({"result": "open" if case.startswith("1") else "closed"}))
        elif url.path == "/text":
            self.answer(200, "text/plain", "open\n")
        elif url.path == "/no-result":
            self.answer(200, "application/json", json.dumps({"status": "ok"}))
        else:
            self.answer(500, "text/plain", "boom")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.answer(200, "application/json", json.dumps({"result": "open" if body == {"case": "123456"} else "no"}))

    def answer(self, status: int, content_type: str, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CaseService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("path", "method"), [("/json", "GET"), ("/text", "GET"), ("/json", "POST")])
async def test_http_lookup_reads_a_json_result_or_text(service: str, path: str, method: str) -> None:
    call = await simulate(looked_up(url=service + path, method=method), "4 123456", typeahead=True)
    assert call.result.path[-1] == "case.found"
    assert call.result.variables["case_status"] == "open"


async def test_http_lookup_sends_the_parameters(service: str) -> None:
    call = await simulate(looked_up(url=service + "/json"), "4 923456", typeahead=True)
    assert call.result.variables["case_status"] == "closed"


@pytest.mark.parametrize("path", ["/fail", "/no-result"])
async def test_http_errors_go_to_on_error(service: str, path: str) -> None:
    call = await simulate(looked_up(url=service + path), "4 123456", typeahead=True)
    assert call.result.path[-1] == "agents"


async def test_http_lookup_is_bounded_by_the_node_timeout() -> None:
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    try:
        call = await simulate(looked_up(url=f"http://127.0.0.1:{port}/json", timeout=0.2), "4 123456", typeahead=True)
    finally:
        silent.close()
    assert call.result.path[-1] == "agents"
