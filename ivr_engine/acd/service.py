"""The ACD side of a running engine: one AMI login, the queue monitor and the supervisor helpers.

AMI being down when the engine starts must not stop the engine (calls are FastAGI's; the dialplan
falls back to the operator queue on its own), so the first login is retried with backoff in the
background. Once logged in, AMIClient itself reconnects after a drop and the monitor resynchronises.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import structlog

from ivr_engine.acd.agent_control import AgentControl
from ivr_engine.acd.queue_monitor import QueueMonitor
from ivr_engine.ami.client import AMIClient
from ivr_engine.ami.errors import AMIError
from ivr_engine.config import AMISettings
from ivr_engine.metrics import IvrMetrics
from ivr_engine.web.health import CheckResult

logger = structlog.get_logger(__name__)


class AcdService:
    def __init__(
        self,
        settings: AMISettings,
        metrics: IvrMetrics,
        *,
        queues: Sequence[str] | None = None,
        interval: float = 5.0,
        retry_max: float = 30.0,
    ) -> None:
        self.client = AMIClient(
            settings.host, settings.port, username=settings.username, secret=settings.secret
        )
        self.monitor = QueueMonitor(self.client, metrics, queues=queues, interval=interval)
        self.agents = AgentControl(self.client)
        self._retry_max = retry_max
        self._login_error: str | None = None
        self._login: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Returns at once; the login and the monitor carry on in the background."""
        await self.monitor.start()
        self._login = asyncio.create_task(self._log_in(), name="ami-login")

    async def stop(self, timeout: float = 5.0) -> None:
        if self._login is not None:
            self._login.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._login, timeout)
        await self.monitor.stop(timeout)
        with contextlib.suppress(AMIError, TimeoutError):
            await asyncio.wait_for(self.client.close(), timeout)

    def health(self) -> CheckResult:
        if self._login_error is not None and not self.client.connected:
            return CheckResult(False, f"AMI login failing: {self._login_error}")
        return self.monitor.health()

    async def _log_in(self) -> None:
        delay = 0.5
        while True:
            try:
                await self.client.connect()
            except AMIError as exc:
                if self._login_error != str(exc):
                    logger.warning("acd.ami_login_failed", error=str(exc), retry_in=delay)
                self._login_error = str(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
            else:
                self._login_error = None
                return
