"""/healthz for load balancers and /metrics for Prometheus.

Each health check is a callable the service hands in (database reachable, AGI server listening,
AMI logged in...). A check returns a CheckResult; one that raises counts as failed with the error
as its detail, so a broken component shows up as a 503 rather than as a 500.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    detail: str = ""


# Synchronous checks (a database ping) run in a worker thread so they never stall the event loop.
HealthCheck = Callable[[], CheckResult] | Callable[[], Awaitable[CheckResult]]


async def _run(check: HealthCheck) -> CheckResult:
    try:
        if inspect.iscoroutinefunction(check):
            return await check()
        return await run_in_threadpool(check)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001  a failing component must not take the health endpoint down with it
        return CheckResult(False, f"{type(exc).__name__}: {exc}")


def health_endpoint(checks: Mapping[str, HealthCheck]) -> Callable[[Request], Awaitable[Response]]:
    async def healthz(request: Request) -> Response:
        results = {name: await _run(check) for name, check in checks.items()}
        ok = all(result.ok for result in results.values())
        body = {
            "ok": ok,
            "checks": {name: {"ok": r.ok, "detail": r.detail} for name, r in results.items()},
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    return healthz


def metrics_endpoint(registry: CollectorRegistry) -> Callable[[Request], Awaitable[Response]]:
    async def metrics(request: Request) -> Response:
        # Collectors may read the statistics recorder's counters under its lock: off the loop.
        payload = await run_in_threadpool(generate_latest, registry)
        return Response(payload, media_type=CONTENT_TYPE_LATEST)

    return metrics
