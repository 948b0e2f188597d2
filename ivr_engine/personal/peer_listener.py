"""Receives the store's announcements (`peer_events`) for this node's personal menus.

A thread of its own holds one PostgreSQL connection in LISTEN and hands each payload's events to
`deliver` (on that thread: the engine passes a function that schedules `PersonalMenus.apply` on
its event loop, where calls use the menus). A lost connection is retried with backoff.

Announcements are not kept by PostgreSQL for a listener that is away, so each time it listens
(first, and again after a lost connection) it calls `catch_up(since)` before it reports itself
listening: with `since` the moment given at start (when the menus were loaded) and then the last
moment it heard, less CATCH_UP_MARGIN. LISTEN comes first, so whatever commits after the catch-up's
read is announced; what commits in between is both read and heard, and counted once by call id.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg
import sqlalchemy as sa
import structlog

from ivr_engine.personal.peer_events import CATCH_UP_MARGIN, CHANNEL, PeerEvent, PeerPayloadError, decode

if TYPE_CHECKING:
    from ivr_engine.personal.menus import PersonalMenus

logger = structlog.get_logger(__name__)

POLL_SECONDS = 0.5  # how soon stop() is noticed
APPLICATION_NAME = "ivr-personal-peers"  # how the connection shows in pg_stat_activity


def conninfo(url: str | sa.URL) -> str:
    """The libpq URI of a SQLAlchemy PostgreSQL URL (any driver), password and options kept."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"announcements need PostgreSQL, not {parsed.get_backend_name()}")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class PeerListener:
    def __init__(
        self,
        url: str | sa.URL,
        deliver: Callable[[list[PeerEvent]], object],
        *,
        catch_up: Callable[[float], object] | None = None,
        since: float | None = None,
        clock: Callable[[], float] = time.time,
        retry: float = 1.0,
        max_retry: float = 30.0,
    ) -> None:
        """`since`: the unix time the first `catch_up` reads from (None: none at the first LISTEN);
        `clock` must tell the time the calls' end times are in."""
        self._conninfo = conninfo(url)
        self._deliver = deliver
        self._catch_up, self._since, self._clock = catch_up, since, clock
        self._retry, self._max_retry = retry, max_retry
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="personal-peers", daemon=True)
        self.error = ""  # why the last connection failed or was lost, for the health check

    @classmethod
    def for_menus(
        cls, url: str | sa.URL, menus: PersonalMenus, loop: asyncio.AbstractEventLoop, **options: Any
    ) -> PeerListener:
        """A listener that keeps `menus` in step on `loop`, where calls use them, from the moment
        they were loaded."""

        def deliver(events: list[PeerEvent]) -> None:
            loop.call_soon_threadsafe(menus.apply, events)

        def catch_up(since: float) -> None:
            for step in menus.missed_since(since):
                loop.call_soon_threadsafe(step)

        return cls(url, deliver, catch_up=catch_up, since=menus.counted_since, clock=menus.clock, **options)

    def start(self) -> PeerListener:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout)

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    def wait_listening(self, timeout: float) -> bool:
        return self._listening.wait(timeout)

    def _run(self) -> None:
        delay, since, connected_before = self._retry, self._since, False
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._conninfo, autocommit=True, connect_timeout=5, application_name=APPLICATION_NAME
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if self._catch_up is not None and since is not None:
                        self._catch_up(since)
                    self._listening.set()
                    if connected_before:
                        logger.warning("personal.peers.listening_again", caught_up_since=since)
                    connected_before, delay, self.error = True, self._retry, ""
                    while not self._stop.is_set():
                        polled = self._clock()
                        for note in conn.notifies(timeout=POLL_SECONDS):
                            self._receive(note.payload)
                        since = polled - CATCH_UP_MARGIN
            except Exception as exc:  # the connection lost, or the catch-up's read of the store failed
                self._listening.clear()
                self.error = str(exc).strip() or type(exc).__name__
                log = logger.warning if isinstance(exc, psycopg.Error | sa.exc.SQLAlchemyError) else logger.exception
                log("personal.peers.disconnected", error=self.error, retry_in=delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self._max_retry)
        self._listening.clear()

    def _receive(self, payload: str) -> None:
        try:
            events = decode(payload)
        except PeerPayloadError as exc:
            logger.error("personal.peers.bad_payload", error=str(exc))
            return
        try:
            self._deliver(events)
        except Exception:  # one bad hand-over must not stop the announcements that follow
            logger.exception("personal.peers.deliver_failed", events=len(events))
