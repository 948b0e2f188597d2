"""Receives the store's announcements (`peer_events`) for this node's personal menus.

A thread of its own holds one PostgreSQL connection in LISTEN and hands each payload's events to
`deliver` (on that thread: the engine passes a function that schedules `PersonalMenus.apply` on
its event loop, where calls use the menus). A lost connection is retried with backoff.

Announcements are not kept by PostgreSQL for a listener that is away: while this node is
disconnected, or before it first listens, calls and bookmarks on other nodes reach its menus only
through the tables, at its next start. The rows themselves are never lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import sqlalchemy as sa
import structlog

from ivr_engine.personal.peer_events import CHANNEL, PeerEvent, PeerPayloadError, decode

logger = structlog.get_logger(__name__)

POLL_SECONDS = 0.5  # how soon stop() is noticed


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
        retry: float = 1.0,
        max_retry: float = 30.0,
    ) -> None:
        self._conninfo = conninfo(url)
        self._deliver = deliver
        self._retry, self._max_retry = retry, max_retry
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="personal-peers", daemon=True)
        self.error = ""  # why the last connection failed or was lost, for the health check

    def start(self) -> PeerListener:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    def wait_listening(self, timeout: float) -> bool:
        return self._listening.wait(timeout)

    def _run(self) -> None:
        delay, connected_before = self._retry, False
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    if connected_before:
                        logger.warning("personal.peers.listening_again", missed="other nodes' calls meanwhile")
                    connected_before, delay, self.error = True, self._retry, ""
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=POLL_SECONDS):
                            self._receive(note.payload)
            except psycopg.Error as exc:
                self._listening.clear()
                self.error = str(exc).strip() or type(exc).__name__
                logger.warning("personal.peers.disconnected", error=self.error, retry_in=delay)
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
