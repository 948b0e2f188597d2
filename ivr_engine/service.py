"""`ivr serve`: FastAGI for calls, the dashboard, statistics and flow reload in one asyncio process.

Failure of any single part never drops a caller: a failing observer is isolated by the runtime,
a database outage spools statistics to disk, and if this whole process is down, or dies under a
call, Asterisk's dialplan sends callers to the operator queue (AGISTATUS is not SUCCESS, or the
AGI session ended without the HANGUP that ends every call the engine finishes).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog

from ivr_engine.agi.channel import AGIChannel, PlayedHook
from ivr_engine.agi.server import AGISession, FastAGIServer
from ivr_engine.config import Settings
from ivr_engine.flows import FlowLibrary, LoadedFlow
from ivr_engine.metrics import IvrMetrics, LiveCalls, MetricsObserver
from ivr_engine.runtime.engine import RuntimeSettings, run_call
from ivr_engine.runtime.events import (
    CallEnded,
    CallObserver,
    CallStarted,
    NodeEntered,
    NodeVisit,
)
from ivr_engine.runtime.personal import Personalizer

RELOAD_INTERVAL = 2.0
logger = structlog.get_logger(__name__)


@dataclass(slots=True)
class FanOut:
    """Hands each event to several observers; one that raises does not starve the others."""

    observers: Sequence[CallObserver]
    log: structlog.typing.FilteringBoundLogger = field(default_factory=lambda: logger)

    def _each(self, method: str, event: object) -> None:
        for observer in self.observers:
            try:
                getattr(observer, method)(event)
            except Exception:
                self.log.exception("observer.failed", observer=type(observer).__name__, method=method)

    def call_started(self, event: CallStarted) -> None:
        self._each("call_started", event)

    def node_entered(self, event: NodeEntered) -> None:
        self._each("node_entered", event)

    def node_visited(self, event: NodeVisit) -> None:
        self._each("node_visited", event)

    def call_ended(self, event: CallEnded) -> None:
        self._each("call_ended", event)


class Service:
    def __init__(
        self,
        settings: Settings,
        *,
        observers: Sequence[CallObserver] = (),
        personalizer: Personalizer | None = None,
        metrics: IvrMetrics | None = None,
        on_played: PlayedHook | None = None,
        library: FlowLibrary | None = None,
        on_reload: Callable[[LoadedFlow], object] | None = None,
    ) -> None:
        self.settings = settings
        self.on_played = on_played
        self.on_reload = on_reload
        self.library = library or FlowLibrary.from_settings(settings)
        self.metrics = metrics or IvrMetrics()
        self.live_calls = LiveCalls()
        self.observer = FanOut([MetricsObserver(self.metrics, self.live_calls), *observers])
        self.personalizer = personalizer
        self.runtime_settings = RuntimeSettings.from_settings(settings)
        self.agi = FastAGIServer(
            self.handle_call,
            settings.agi.host,
            settings.agi.port,
            command_timeout=settings.agi.command_timeout,
            header_timeout=settings.agi.header_timeout,
            max_connections=settings.agi.max_connections,
            on_command=self.metrics.observe_agi_command,
        )
        self.calls_finished = 0

    async def handle_call(self, session: AGISession) -> None:
        loaded = self.library.get(session.request.network_script)
        channel = AGIChannel(session, on_played=self.on_played)
        try:
            await run_call(
                loaded.flow,
                channel,
                prompts=loaded.prompts,
                observer=self.observer,
                personalizer=self.personalizer,
                settings=self.runtime_settings,
            )
        finally:
            self.calls_finished += 1

    async def start(self) -> None:
        if not self.library.loaded:
            self.library.load_all()
        await self.agi.start()
        logger.info(
            "service.started",
            agi=f"{self.settings.agi.host}:{self.agi.port}",
            flows={name: self.library.get(name).flow.version for name in self.library.names()},
        )

    async def stop(self, grace: float = 10.0) -> None:
        await self.agi.stop(grace)
        logger.info("service.stopped", calls=self.calls_finished)

    async def reload_forever(self, interval: float = RELOAD_INTERVAL) -> None:
        """Polls for edited flows until cancelled. Nothing but cancelling ends it: an error that
        escaped would end the task unnoticed, and no later edit would ever be served."""
        while True:
            await asyncio.sleep(interval)
            try:
                attempts = await asyncio.to_thread(self.library.reload_changed)
            except Exception:
                logger.exception("flow.reload_failed")
                continue
            for name, errors in attempts:
                if not errors and self.on_reload is not None:
                    try:
                        self.on_reload(self.library.get(name))
                    except Exception:
                        logger.exception("flow.on_reload_failed", flow=name)


async def wait_for_stop_signal() -> None:
    """Returns at the first SIGINT or SIGTERM; the caller then stops the engine gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
