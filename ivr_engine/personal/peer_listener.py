"""Receives the store's announcements (`peer_events`) for this node's personal menus.

A thread of its own holds one PostgreSQL connection in LISTEN and hands each payload's events to
`deliver` (on that thread: the engine passes a function that schedules `PersonalMenus.apply` on
its event loop, where calls use the menus). A lost connection is retried with backoff.

Announcements are not kept by PostgreSQL for a listener that is away, so each time it listens
(first, and again after a lost connection) it calls `catch_up(since)` before it reports itself
listening: with `since` the moment given at start (when the menus were loaded) and then the last
moment it heard, less CATCH_UP_MARGIN. LISTEN comes first, so whatever commits after the catch-up's
read is announced; what commits in between is both read and heard, and counted once by call id.

"The last moment it heard" is the last moment the server answered on the listening connection, not
the last empty wait: a connection that died without a reset (a firewall dropping an idle flow, a
partition, a host gone) waits in silence exactly as a healthy one does. So every `heartbeat`
seconds it asks the server a round trip (announcements arrive in order, before the answer), cuts a
connection whose server does not answer within `heartbeat_timeout`, and libpq's TCP keepalives and
user timeout fail a peer gone silent within seconds rather than the system's two hours.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
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
# libpq: probe an idle connection after 5 s, give up after 3 unanswered probes 5 s apart, and fail
# a send the peer has not acknowledged within 15 s.
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 5, "keepalives_count": 3,
             "tcp_user_timeout": 15_000}  # fmt: skip


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
        heartbeat: float = 5.0,
        heartbeat_timeout: float = 10.0,
    ) -> None:
        """`since`: the unix time the first `catch_up` reads from (None: none at the first LISTEN);
        `clock` must tell the time the calls' end times are in. `heartbeat`: seconds between round
        trips that show the server still there; `heartbeat_timeout`: how long one may take."""
        self._conninfo = conninfo(url)
        self._deliver = deliver
        self._catch_up, self._since, self._clock = catch_up, since, clock
        self._retry, self._max_retry = retry, max_retry
        self._heartbeat, self._heartbeat_timeout = heartbeat, heartbeat_timeout
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
                    self._conninfo, autocommit=True, connect_timeout=5, application_name=APPLICATION_NAME, **KEEPALIVE
                ) as conn:
                    asked = self._clock()
                    conn.execute(f"LISTEN {CHANNEL}")
                    if self._catch_up is not None and since is not None:
                        self._catch_up(since)
                    self._listening.set()
                    if connected_before:
                        logger.warning("personal.peers.listening_again", caught_up_since=since)
                    connected_before, delay, self.error = True, self._retry, ""
                    beat_at = time.monotonic() + self._heartbeat
                    while not self._stop.is_set():
                        since = asked - CATCH_UP_MARGIN  # the server answered after `asked`
                        for note in conn.notifies(timeout=POLL_SECONDS):
                            self._receive(note.payload)
                        if time.monotonic() >= beat_at:
                            asked = self._clock()
                            self._round_trip(conn)
                            beat_at = time.monotonic() + self._heartbeat
            except Exception as exc:  # the connection lost, or the catch-up's read of the store failed
                self._listening.clear()
                self.error = str(exc).strip() or type(exc).__name__
                log = logger.warning if isinstance(exc, psycopg.Error | sa.exc.SQLAlchemyError) else logger.exception
                log("personal.peers.disconnected", error=self.error, retry_in=delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self._max_retry)
        self._listening.clear()

    def _round_trip(self, conn: psycopg.Connection[Any]) -> None:
        """Raises if the server does not answer within heartbeat_timeout: the connection is cut
        then, since a blocked query waits for a silent server without end. (Announcements that
        arrive meanwhile wait in psycopg for the next notifies().)"""
        fired = threading.Event()
        cut = threading.Timer(self._heartbeat_timeout, _cut, (conn.pgconn.socket, fired))
        cut.start()
        try:
            conn.execute("SELECT 1")
        except psycopg.OperationalError:
            if not fired.is_set():
                raise
        finally:
            cut.cancel()
            cut.join()  # a cut under way ends before the connection may close (and its fd be reused)
        if fired.is_set():  # also when the answer came just as the cut began: the socket is shut now
            raise psycopg.OperationalError(
                f"the server did not answer within {self._heartbeat_timeout:g} s: connection cut"
            )

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


def _cut(fd: int, fired: threading.Event) -> None:
    # shutdown() through a duplicate reaches the shared socket: the blocked read returns at once
    # and psycopg fails the query, on the thread that owns the connection.
    fired.set()
    duplicate = os.dup(fd)
    try:
        sock = socket.socket(fileno=duplicate)
    except OSError:
        os.close(duplicate)  # not a socket: nothing else would close it
        return
    with sock, contextlib.suppress(OSError):  # already shut by the peer
        sock.shutdown(socket.SHUT_RDWR)
