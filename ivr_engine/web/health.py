"""/healthz for load balancers and /metrics for Prometheus.

Each health check is a callable the service hands in (database reachable, AGI server listening,
AMI logged in...). A check returns a CheckResult; one that raises counts as failed with the error
as its detail, so a broken component shows up as a 503 rather than as a 500.
"""

from __future__ import annotations

import inspect
import threading
import time
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


def _failed(exc: Exception) -> CheckResult:
    return CheckResult(False, f"{type(exc).__name__}: {exc}")


class CachedCheck:
    """A synchronous check answered from its last result for `seconds`: load balancers poll /healthz
    every second or two, and a check that queries the database should not add that load to it."""

    def __init__(
        self, check: Callable[[], CheckResult], seconds: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.check = check
        self.seconds = seconds
        self.clock = clock
        self._lock = threading.Lock()  # one run at a time
        self._last: tuple[float, CheckResult] | None = None

    def __call__(self) -> CheckResult:
        # While one poll runs the check, the others answer from the last result rather than park
        # a worker each on the lock for as long as a database takes to time out.
        if not self._lock.acquire(blocking=self._last is None):
            assert self._last is not None
            return self._last[1]
        try:
            now = self.clock()
            if self._last is None or now - self._last[0] >= self.seconds:
                try:
                    result = self.check()
                except Exception as exc:  # noqa: BLE001  as in _run; the failure is cached like a result
                    result = _failed(exc)
                self._last = (now, result)
            return self._last[1]
        finally:
            self._lock.release()


async def _run(check: HealthCheck) -> CheckResult:
    try:
        if inspect.iscoroutinefunction(check):
            return await check()
        return await run_in_threadpool(check)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001  a failing component must not take the health endpoint down with it
        return _failed(exc)


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
