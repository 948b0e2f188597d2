"""asyncio AMI client: login, actions with timeouts, event subscriptions, reconnect with backoff.

We do not use panoramisk's Manager. In 1.4 (the newest release) the QueueAdd reply never resolves
its future (the await hangs), queued actions are re-sent after a reconnect only once a FullyBooted
event arrives (which needs the ``system`` read class, more privilege than we want), and an action
cut by a disconnect may never resolve. Here every action has a timeout, a dropped connection fails
the waiting actions at once with AMIConnectionLost, and nothing is re-sent behind the caller's back
(QueueAdd or Originate sent twice is worse than an error the caller sees).

Usage::

    client = AMIClient("127.0.0.1", 5038, username="ivr", secret=...)
    await client.connect()
    response = await client.action("QueueStatus", Queue="support")
    async with client.subscribe("QueueCallerJoin", "QueueCallerLeave") as events:
        event = await events.get(timeout=5)
    await client.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from ivr_engine.ami.errors import (
    AMIAuthError,
    AMIClosed,
    AMIConnectionError,
    AMIConnectionLost,
    AMIError,
    AMINotConnected,
    AMITimeout,
)
from ivr_engine.ami.protocol import (
    NEED_DATA,
    ActionCompleted,
    AMIConnection,
    AMIEvent,
    AMIResponse,
    Banner,
    ConnectionClosed,
    EventReceived,
    FieldValue,
    Skipped,
)

EventCallback = Callable[[AMIEvent], None]
READ_CHUNK = 65536
logger = structlog.get_logger(__name__)


class Subscription:
    """Events of some names (all when none given), buffered; the oldest are dropped when full."""

    def __init__(self, names: frozenset[str], maxsize: int) -> None:
        self.names = names
        self.dropped = 0
        self._queue: asyncio.Queue[AMIEvent | None] = asyncio.Queue(maxsize)

    def wants(self, event: AMIEvent) -> bool:
        return not self.names or event.name.lower() in self.names

    def put(self, event: AMIEvent | None) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    async def get(self, timeout: float) -> AMIEvent:
        """The next event; AMITimeout if none arrives in time, AMIClosed once the client closed."""
        try:
            event = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            raise AMITimeout(
                f"no {'/'.join(sorted(self.names)) or 'AMI'} event in {timeout}s"
            ) from None
        if event is None:
            self._queue.put_nowait(None)  # stay closed for later readers
            raise AMIClosed("the AMI client was closed")
        return event

    def __aiter__(self) -> AsyncIterator[AMIEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[AMIEvent]:
        while (event := await self._queue.get()) is not None:
            yield event


@dataclass(slots=True)
class _Link:
    """One TCP connection and its protocol state."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    protocol: AMIConnection
    banner: asyncio.Future[str]
    futures: dict[str, asyncio.Future[AMIResponse]] = field(default_factory=dict)
    reader_task: asyncio.Task[None] | None = None


class AMIClient:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 5038,
        *,
        username: str,
        secret: str,
        events: str = "on",
        connect_timeout: float = 5.0,
        action_timeout: float = 10.0,
        ping_interval: float = 20.0,
        reconnect: bool = True,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        on_connect: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._username = username
        self._secret = secret
        self._events = events
        self._connect_timeout = connect_timeout
        self._action_timeout = action_timeout
        self._ping_interval = ping_interval
        self._reconnect = reconnect
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._on_connect = on_connect
        self._link: _Link | None = None
        self._ready = asyncio.Event()
        self._closing = False
        self._supervisor: asyncio.Task[None] | None = None
        self._callbacks: dict[str, list[EventCallback]] = {}
        self._subscriptions: set[Subscription] = set()
        self.version: str | None = None
        self.connects = 0
        self.log = logger.bind(ami=f"{host}:{port}")

    @property
    def connected(self) -> bool:
        return self._ready.is_set() and self._link is not None and not self._closing

    async def connect(self) -> None:
        """Connect and log in; raises AMIAuthError / AMIConnectionError. Then stays connected."""
        if self._supervisor is not None:
            raise AMIError("connect() called twice")
        link = await self._open()
        self._supervisor = asyncio.create_task(self._supervise(link))

    async def action(
        self, name: str, *, timeout: float | None = None, **fields: FieldValue
    ) -> AMIResponse:
        """Send one action and wait for its response (and list events, for list actions).

        A ``Response: Error`` is returned, not raised: call ``raise_for_error()`` where it matters.
        """
        limit = self._action_timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        if self._closing:
            raise AMIClosed(f"{name}: the AMI client is closed")
        try:
            await asyncio.wait_for(self._ready.wait(), limit)
        except TimeoutError:
            raise AMINotConnected(f"{name}: not connected to AMI within {limit}s") from None
        if self._closing or self._link is None:
            raise AMIClosed(f"{name}: the AMI client is closed")
        return await self._send(self._link, name, fields, max(deadline - loop.time(), 0.0))

    def on_event(self, name: str, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event)`` for events named ``name`` (``*``: all); returns an unsubscriber.

        Callbacks run on the reader task: they must be quick and must not block.
        """
        key = name.lower()
        self._callbacks.setdefault(key, []).append(callback)
        return lambda: self._callbacks.get(key, []).remove(callback)

    @contextlib.asynccontextmanager
    async def subscribe(self, *names: str, maxsize: int = 10_000) -> AsyncIterator[Subscription]:
        subscription = Subscription(frozenset(n.lower() for n in names), maxsize)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._ready.set()  # wake waiters in action(): they see _closing
        link = self._link
        if link is not None:
            # Logoff is a courtesy (Asterisk logs a clean exit); its Goodbye is not worth a wait.
            action_id, data = link.protocol.send_action("Logoff")
            link.protocol.forget(action_id)
            link.writer.write(data)
            self._drop(link)
            await self._wait_reader(link, self._connect_timeout)
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._supervisor, self._connect_timeout)
        for subscription in self._subscriptions:
            subscription.put(None)
        self.log.info("ami.closed")

    # --- connection life cycle -------------------------------------------------------------

    async def _open(self) -> _Link:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self._connect_timeout
            )
        except (OSError, TimeoutError) as exc:
            raise AMIConnectionError(
                f"cannot reach AMI at {self.host}:{self.port}: {exc!r}"
            ) from exc
        link = _Link(reader, writer, AMIConnection(), asyncio.get_running_loop().create_future())
        link.reader_task = asyncio.create_task(self._read(link))
        try:
            self.version = await asyncio.wait_for(
                asyncio.shield(link.banner), self._connect_timeout
            )
            response = await self._send(
                link,
                "Login",
                {"Username": self._username, "Secret": self._secret, "Events": self._events},
                self._connect_timeout,
            )
        except BaseException as exc:  # cancelled by close() too: never leave the link open
            self._drop(link)
            if not isinstance(exc, (AMIError, TimeoutError)):
                raise
            await self._wait_reader(link, self._connect_timeout)
            if isinstance(exc, TimeoutError):
                raise AMIConnectionError(f"no AMI banner from {self.host}:{self.port}") from None
            if isinstance(exc, AMIConnectionLost):
                raise AMIConnectionError(f"AMI closed during login: {exc}") from exc
            raise
        if not response.ok:
            self._drop(link)
            await self._wait_reader(link, self._connect_timeout)
            raise AMIAuthError(f"AMI login as {self._username!r} refused: {response.message}")
        self._link = link
        self.connects += 1
        self._ready.set()
        self.log.info("ami.connected", version=self.version, connects=self.connects)
        if self._on_connect is not None:
            await self._run_on_connect()
        return link

    async def _run_on_connect(self) -> None:
        assert self._on_connect is not None
        try:
            await asyncio.wait_for(self._on_connect(), self._action_timeout)
        except Exception:
            self.log.exception("ami.on_connect_failed")

    async def _supervise(self, link: _Link) -> None:
        while True:
            pinger = asyncio.create_task(self._ping(link))
            try:
                assert link.reader_task is not None
                await asyncio.shield(link.reader_task)
            finally:
                pinger.cancel()
            self._ready.clear()
            self._link = None
            if self._closing or not self._reconnect:
                return
            self.log.warning("ami.connection_lost")
            link = await self._reopen()

    async def _reopen(self) -> _Link:
        delay = self._backoff_initial
        while True:
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            try:
                return await self._open()
            except AMIError as exc:
                self.log.warning("ami.reconnect_failed", error=str(exc), retry_in=delay)
            delay = min(delay * 2, self._backoff_max)

    async def _ping(self, link: _Link) -> None:
        # A half-open TCP connection sends no EOF; a Ping that goes unanswered reveals it.
        while True:
            await asyncio.sleep(self._ping_interval)
            try:
                await self._send(link, "Ping", {}, self._action_timeout)
            except AMITimeout:
                self.log.warning("ami.ping_timeout")
                self._drop(link)
                return
            except AMIError:
                return

    async def _wait_reader(self, link: _Link, timeout: float) -> None:
        assert link.reader_task is not None
        try:
            await asyncio.wait_for(asyncio.shield(link.reader_task), timeout)
        except TimeoutError:
            self.log.warning("ami.reader_not_finished", timeout=timeout)

    def _drop(self, link: _Link) -> None:
        link.writer.close()

    # --- sending and reading -----------------------------------------------------------------

    async def _send(
        self, link: _Link, name: str, fields: dict[str, FieldValue], timeout: float
    ) -> AMIResponse:
        if link.reader_task is None or link.reader_task.done():
            raise AMIConnectionLost(f"{name}: the AMI connection is gone")
        action_id, data = link.protocol.send_action(name, fields)
        future: asyncio.Future[AMIResponse] = asyncio.get_running_loop().create_future()
        link.futures[action_id] = future
        try:
            link.writer.write(data)
            await asyncio.wait_for(asyncio.shield(future), timeout)
            return future.result()
        except TimeoutError:
            link.protocol.forget(action_id)
            raise AMITimeout(f"{name}: no AMI response in {timeout:.1f}s") from None
        except AMIConnectionLost as exc:
            raise AMIConnectionLost(f"{name} ({action_id}): {exc}") from None
        except (ConnectionError, OSError) as exc:
            raise AMIConnectionLost(f"{name}: AMI connection failed: {exc}") from exc
        finally:
            link.futures.pop(action_id, None)

    async def _read(self, link: _Link) -> None:
        reason = "closed by Asterisk"
        try:
            while True:
                event = link.protocol.next_event()
                if event is NEED_DATA:
                    link.protocol.receive_data(await link.reader.read(READ_CHUNK))
                elif isinstance(event, ConnectionClosed):
                    break
                else:
                    self._dispatch(link, event)
        except (ConnectionError, OSError) as exc:
            reason = f"connection error: {exc}"
        except AMIError as exc:
            reason = f"protocol error: {exc}"
            self.log.error("ami.protocol_error", error=str(exc))
        finally:
            link.writer.close()
            self._fail_pending(link, reason)

    def _dispatch(
        self, link: _Link, event: Banner | ActionCompleted | EventReceived | Skipped
    ) -> None:
        if isinstance(event, Banner):
            if not link.banner.done():
                link.banner.set_result(event.version)
        elif isinstance(event, ActionCompleted):
            future = link.futures.get(event.response.action_id or "")
            if future is not None and not future.done():
                future.set_result(event.response)
        elif isinstance(event, EventReceived):
            self._deliver(event.event)
        else:
            self.log.debug("ami.skipped", reason=event.reason, lines=len(event.lines))

    def _deliver(self, event: AMIEvent) -> None:
        for key in (event.name.lower(), "*"):
            for callback in list(self._callbacks.get(key, ())):
                try:
                    callback(event)
                except Exception:
                    self.log.exception("ami.event_callback_failed", event_name=event.name)
        for subscription in self._subscriptions:
            if subscription.wants(event):
                subscription.put(event)

    def _fail_pending(self, link: _Link, reason: str) -> None:
        if not link.banner.done():
            link.banner.set_exception(AMIConnectionLost(f"AMI {reason} before its banner"))
            link.banner.exception()  # retrieved here so an unawaited banner does not warn
        for future in link.futures.values():
            if not future.done():
                future.set_exception(
                    AMIConnectionLost(f"AMI {reason}; the action may or may not have run")
                )
