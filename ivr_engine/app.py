"""Assembles the running engine from settings: statistics, metrics, the call service, the dashboard.

`ivr serve` and `ivr demo` both start the engine through `Engine`, so the demo shows exactly what
production runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import sqlalchemy as sa
import structlog
import uvicorn

from ivr_engine.acd.service import AcdService
from ivr_engine.agi.channel import PlayedHook
from ivr_engine.config import Settings
from ivr_engine.flows import FlowLibrary, LoadedFlow
from ivr_engine.metrics import IvrMetrics
from ivr_engine.personal.layout import personalizable
from ivr_engine.personal.menus import PersonalMenus
from ivr_engine.personal.peer_listener import PeerListener
from ivr_engine.runtime.events import CallObserver
from ivr_engine.service import Service, wait_for_stop_signal
from ivr_engine.stats.privacy import caller_keyer
from ivr_engine.stats.recorder import StatsRecorder
from ivr_engine.stats.store import StatsStore, StatsStoreError, database_reason
from ivr_engine.web.app import create_app
from ivr_engine.web.health import CachedCheck, CheckResult

logger = structlog.get_logger(__name__)
HEALTH_QUERY_SECONDS = 2.0  # a statistics database slower than this to answer counts as failing
HEALTH_CACHE_SECONDS = 5.0  # /healthz queries the database at most this often
HISTORY_POLL_SECONDS = 2.0  # how soon a flow served without its history has it read
HISTORY_MAX_RETRY_SECONDS = 60.0


def open_store(settings: Settings, *, dev: bool = False) -> StatsStore:
    """The statistics store; a database that is down at start-up does not stop the engine: the
    recorder spools to disk and replays once it is back (the schema must exist by then).

    Without IVR_STATS_CALLER_KEY_SECRET the engine refuses to start (CallerSecretError), except
    in `dev` mode (the demo), which keeps a generated secret beside the spool.
    """
    keyer = caller_keyer(
        settings.stats.caller_key_secret or None,
        plan=settings.stats.number_plan,
        dev_dir=settings.path(settings.stats.spool_dir) if dev else None,
    )
    try:
        return StatsStore.open(settings.stats.url, keyer=keyer)
    except StatsStoreError as exc:
        logger.error("stats.unavailable_at_start", error=str(exc))
        return StatsStore.open(settings.stats.url, keyer=keyer, run_migrations=False)


def _reloaded(personal: PersonalMenus, metrics: IvrMetrics, fresh: LoadedFlow) -> None:
    """A reloaded flow gets personal menus laid out for its new tree and prompts (and, if its id
    is new, its metric series)."""
    metrics.serve_flows([fresh.flow.id])
    if personalizable(fresh.flow):
        personal.add_flow(fresh.flow, fresh.prompts)


def stats_health(recorder: StatsRecorder, store: StatsStore) -> CheckResult:
    """The /healthz check of statistics: whether what calls record reaches the database."""
    if recorder.unspooled:
        return CheckResult(False, f"database and spool unwritable: {recorder.unspooled} visits held in memory")
    if recorder.refused:
        return CheckResult(False, f"database refused {recorder.refused} visits: set aside in {recorder.refused_batches.path}")
    # Spooled visits mean the database is (or was just) unreachable: nothing is lost, but the
    # dashboard's figures lag until the replay, which is what an operator must know.
    if recorder.spool.pending:
        return CheckResult(False, "database unreachable: visits are spooled to disk")
    # An empty spool only says the last write went through: the dashboard reads too, and a
    # missing table or a server gone since then must show here before analysts see a 503.
    try:
        store.check(timeout=HEALTH_QUERY_SECONDS)
    except sa.exc.SQLAlchemyError as exc:
        return CheckResult(False, f"database cannot be read: {database_reason(exc)}")
    return CheckResult(True, f"{recorder.backlog} visits waiting to be written")


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside our event loop: the engine owns SIGINT/SIGTERM (it must let calls finish
    before stopping), so uvicorn must not take the signals for itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Engine:
    settings: Settings
    store: StatsStore
    recorder: StatsRecorder
    metrics: IvrMetrics
    service: Service
    personal: PersonalMenus
    acd: AcdService | None = None  # queue monitor and supervisor helpers, when settings.ami.enabled
    peers: PeerListener | None = None  # other nodes' calls for the personal menus, on PostgreSQL

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        observers: tuple[CallObserver, ...] = (),
        on_played: PlayedHook | None = None,
        dev: bool = False,
    ) -> Engine:
        # Flows first: a service that cannot serve its flows must not start anything else.
        library = FlowLibrary.from_settings(settings)
        library.load_all()
        store = open_store(settings, dev=dev)
        days = settings.stats.retention_days
        recorder = StatsRecorder(
            store,
            settings.path(settings.stats.spool_dir),
            retention=dt.timedelta(days=days) if days else None,
        )
        metrics = IvrMetrics()
        metrics.watch_stats_recorder(recorder.counts)
        metrics.serve_flows(f.flow.id for f in library.loaded)
        # Other engine nodes may serve the same callers where the store announces what it records:
        # the personal menus take it in (`running` listens).
        menus = functools.partial(
            PersonalMenus.from_store,
            store,
            [(f.flow, f.prompts) for f in library.loaded],
            shared=store.announces,
            bookmarks_to=recorder,
        )
        # What the last run spooled (an outage) is not in the store yet; the recorder replays it.
        try:
            personal = menus()
            spooled = recorder.spooled_events()
        except sa.exc.SQLAlchemyError as exc:
            # Calls come first: until the database is back (`load_history_forever`), the menus
            # know only the spool and the calls from now on, and everyone else gets the canonical menus.
            logger.error("personal.history_unavailable", error=database_reason(exc))
            personal = menus(history=False)
            spooled = recorder.spooled_events(unless_stored=False)
        personal.apply_unwritten(spooled)
        recorder.start()
        service = Service(
            settings,
            library=library,
            observers=(recorder, personal, *observers),
            personalizer=personal,
            metrics=metrics,
            on_played=on_played,
            on_reload=functools.partial(_reloaded, personal, metrics),
        )
        acd = AcdService(settings.ami, metrics) if settings.ami.enabled else None
        return cls(settings, store, recorder, metrics, service, personal, acd)

    def web_server(self) -> uvicorn.Server:
        app = create_app(
            self.settings.web,
            stats_store=self.store,
            flows=lambda: self.service.library.flows().values(),
            registry=self.metrics.registry,
            live_calls=self.service.live_calls,
            checks={
                "agi": self._agi_check,
                "stats": CachedCheck(self._stats_check, seconds=HEALTH_CACHE_SECONDS),
                **({"peers": self._peers_check} if self.store.announces else {}),
                **({"ami": self.acd.health} if self.acd else {}),
            },
            queues=self.acd.monitor.snapshot if self.acd else None,
        )
        config = uvicorn.Config(
            app,
            host=self.settings.web.host,
            port=self.settings.web.port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
        return _EmbeddedServer(config)

    def _agi_check(self) -> CheckResult:
        return CheckResult(True, f"{self.service.agi.active_sessions} calls in progress")

    def _stats_check(self) -> CheckResult:
        return stats_health(self.recorder, self.store)

    def _peers_check(self) -> CheckResult:
        if self.peers is not None and self.peers.listening:
            return CheckResult(True, "hearing other nodes' calls and bookmarks")
        why = self.peers.error if self.peers is not None else "not started"
        return CheckResult(False, f"not hearing other nodes' calls: personal menus lag ({why})")

    def close(self) -> None:
        self.recorder.close()
        self.store.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Engine]:
        """Calls, flow reload, queue monitor and dashboard until the block exits; then calls in
        progress may finish (bounded) before everything stops. A part that fails to start (the
        FastAGI port taken, say) stops the parts already started before the error goes on."""
        async with contextlib.AsyncExitStack() as started:
            started.callback(self.close)
            if self.store.announces:
                loop = asyncio.get_running_loop()
                self.peers = PeerListener.for_menus(self.store.engine.url, self.personal, loop).start()
                started.callback(self.peers.stop)
            if self.settings.web.enabled:
                web = self.web_server()
                started.push_async_callback(_stop_web, web, asyncio.create_task(web.serve()))
            await self.service.start()
            started.push_async_callback(self.service.stop)
            started.push_async_callback(_cancel, asyncio.create_task(self.service.reload_forever()))
            started.push_async_callback(_cancel, asyncio.create_task(load_history_forever(self.personal)))
            if self.acd is not None:
                await self.acd.start()
                started.push_async_callback(self.acd.stop)
            yield self


async def load_history_forever(
    personal: PersonalMenus, interval: float = HISTORY_POLL_SECONDS, max_retry: float = HISTORY_MAX_RETRY_SECONDS
) -> None:
    """Reads the history of the flows served without it: one that became personal on a reload, or
    every flow after a start with the database down. A store that fails is retried with backoff;
    nothing but cancelling ends it."""
    delay = interval
    while True:
        await asyncio.sleep(delay)
        try:
            await personal.load_missing_history()
        except Exception as exc:
            delay = min(delay * 2, max_retry)
            if isinstance(exc, sa.exc.SQLAlchemyError):
                logger.warning("personal.history_unavailable", error=database_reason(exc), retry_in=delay)
            else:
                logger.exception("personal.history_failed", retry_in=delay)
        else:
            delay = interval


async def _stop_web(web: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    web.should_exit = True
    await serving


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def run_engine(settings: Settings) -> None:
    """`ivr serve`: the engine until SIGINT or SIGTERM."""
    engine = Engine.build(settings)
    async with engine.running():
        await wait_for_stop_signal()
