"""asyncio FastAGI server: one TCP connection (one call) -> one AGISession -> one handler task.

We do not use panoramisk's FastAGI server. In 1.4 (the newest release) a peer that closes before
the header's blank line makes it spin at 100% CPU, EOF during a command raises ValueError, an
unsolicited HANGUP is taken as the current command's answer (every later answer is then off by
one), ``200 result= (timeout)`` loses the empty result, 511 is an unknown error, a multi-line 520
desynchronises the stream, and plain-function routes use ``asyncio.coroutine`` (gone in 3.11).
This server sits on the sans-I/O state machine in protocol.py, where each of those cases is tested.

Every await is bounded: the header read by ``header_timeout``, each command by ``command_timeout``
(or a per-command timeout for long operations such as EXEC Queue), closing by ``close_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import structlog

from ivr_engine.agi import commands
from ivr_engine.agi.commands import Command, DigitsResult, Playback, RecordResult
from ivr_engine.agi.errors import (
    AGIConnectionLost,
    AGIError,
    AGIHangup,
    AGIProtocolError,
    AGITimeout,
)
from ivr_engine.agi.protocol import (
    NEED_DATA,
    AGIConnection,
    AGIRequest,
    AGIResponse,
    ConnectionClosed,
    HangupReceived,
    RequestReceived,
    ResponseReceived,
    Trying,
)

T = TypeVar("T")
Handler = Callable[["AGISession"], Awaitable[None]]
CommandObserver = Callable[[str, float], None]

READ_CHUNK = 65536
# the channel variable `read_key` has Read store the key in
READ_KEY_VARIABLE = "IVR_KEY"
logger = structlog.get_logger(__name__)


class AGISession:
    """The call as the handler sees it: send commands, get typed answers."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        connection: AGIConnection,
        request: AGIRequest,
        *,
        command_timeout: float,
        on_command: CommandObserver | None = None,
    ) -> None:
        self.request = request
        self.log = logger.bind(
            call_id=request.uniqueid, caller=request.callerid, channel=request.channel
        )
        self._reader = reader
        self._writer = writer
        self._connection = connection
        self._command_timeout = command_timeout
        self._on_command = on_command
        self._dead = False  # 511 seen
        self._broken: str | None = None  # why the stream can no longer be trusted

    @property
    def hungup(self) -> bool:
        """True once Asterisk said HANGUP or 511, or this session can no longer reach the call."""
        return self._dead or self._connection.hungup or self._broken is not None

    @property
    def line_lost(self) -> bool:
        """The connection to Asterisk failed or closed before Asterisk said the channel hung up.
        Asterisk sends HANGUP over FastAGI when the caller leaves and keeps the connection open
        (res_agi.c, unless AGISIGHUP=no or AGIEXITONHANGUP), so the caller may still be on the line."""
        return self._broken is not None and not (self._dead or self._connection.hungup)

    async def command(self, name: str, *args: str, timeout: float | None = None) -> AGIResponse:
        """Send one command and return Asterisk's 200 answer.

        Raises AGIHangup (511 or connection gone), AGICommandError (510/520), AGITimeout.
        """
        return await self._exchange(commands.Command(name, args, lambda r: r), timeout)

    async def run(self, command: Command[T], timeout: float | None = None) -> T:
        """Run a typed command from :mod:`ivr_engine.agi.commands`."""
        return await self._exchange(command, timeout)

    async def _exchange(self, command: Command[T], timeout: float | None) -> T:
        if self._broken is not None:
            raise AGIConnectionLost(f"{command.name}: session unusable: {self._broken}")
        line = self._connection.send_command(command.name, *command.args)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._command_timeout if timeout is None else timeout):
                self._writer.write(line)
                await self._writer.drain()
                response = await self._receive_answer()
        except TimeoutError:
            # A late answer would be taken for the next command's: the stream is done for.
            self._break(f"{command.name} not answered in time")
            raise AGITimeout(f"{command.name}: no answer from Asterisk in time") from None
        except (ConnectionError, OSError) as exc:
            self._break(f"connection failed: {exc}")
            raise AGIConnectionLost(
                f"{command.name}: connection to Asterisk failed: {exc}"
            ) from exc
        except AGIProtocolError as exc:
            self._break(f"protocol error: {exc}")
            raise
        except asyncio.CancelledError:
            self._break(f"{command.name} cancelled before its answer")
            raise
        finally:
            self._observe(command.name, time.perf_counter() - started)
        if response.code == 511:
            self._dead = True
        return command.interpret(response)

    async def _receive_answer(self) -> AGIResponse:
        while True:
            event = self._connection.next_event()
            if event is NEED_DATA:
                self._connection.receive_data(await self._reader.read(READ_CHUNK))
            elif isinstance(event, ResponseReceived):
                return event.response
            elif isinstance(event, HangupReceived):
                self.log.info("agi.hangup_received", command=self._connection.pending)
            elif isinstance(event, Trying):
                self.log.debug("agi.trying", command=self._connection.pending)
            elif isinstance(event, ConnectionClosed):
                self._break("Asterisk closed the connection")
                raise AGIConnectionLost(
                    f"{event.pending_command}: Asterisk closed the connection before answering"
                )

    def _observe(self, name: str, seconds: float) -> None:
        if self._on_command is None:
            return
        try:
            self._on_command(name, seconds)
        except Exception:  # a metrics hook must never end a call
            self.log.exception("agi.on_command_failed", command=name)

    def _break(self, reason: str) -> None:
        self._broken = reason
        self._writer.close()

    # Typed helpers: thin wrappers so call sites read naturally.

    async def answer(self) -> None:
        await self.run(commands.answer())

    async def hangup(self, channel: str | None = None) -> None:
        await self.run(commands.hangup(channel))

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.run(commands.verbose(message, level))

    async def set_variable(self, name: str, value: str) -> None:
        await self.run(commands.set_variable(name, value))

    async def get_variable(self, name: str) -> str | None:
        return await self.run(commands.get_variable(name))

    async def get_full_variable(self, expression: str, channel: str | None = None) -> str | None:
        return await self.run(commands.get_full_variable(expression, channel))

    async def stream_file(
        self, file: str, escape_digits: str = "", *, timeout: float | None = None
    ) -> Playback:
        return await self.run(commands.stream_file(file, escape_digits), timeout)

    async def get_data(
        self, file: str, timeout_ms: int, max_digits: int, *, timeout: float | None = None
    ) -> DigitsResult:
        return await self.run(commands.get_data(file, timeout_ms, max_digits), timeout)

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        # Asterisk waits timeout_ms itself; our bound must outlast it.
        bound = self._command_timeout + max(timeout_ms, 0) / 1000
        return await self.run(commands.wait_for_digit(timeout_ms), bound)

    async def exec(self, app: str, *args: str, timeout: float | None = None) -> int:
        return await self.run(commands.exec_app(app, *args), timeout)

    async def read_key(self, files: Sequence[str], wait: float, *, timeout: float | None = None) -> str | None:
        """Play `files` as one Read (`commands.read_key`); the key pressed, or None if none came
        within `wait` seconds of the last file. Read returns normally when the caller hangs up,
        and GET VARIABLE still works on the dead channel, so its READSTATUS says which."""
        await self.run(commands.read_key(READ_KEY_VARIABLE, files, wait), timeout)
        status, _, key = (await self.get_full_variable(f"${{READSTATUS}}:${{{READ_KEY_VARIABLE}}}") or "").partition(":")
        if status == "HANGUP":
            raise AGIHangup("Read: the caller hung up")
        return key or None

    async def record_file(
        self,
        file: str,
        format: str = "wav",
        escape_digits: str = "#",
        timeout_ms: int = -1,
        *,
        beep: bool = False,
        silence_s: int | None = None,
        timeout: float | None = None,
    ) -> RecordResult:
        command = commands.record_file(
            file, format, escape_digits, timeout_ms, beep=beep, silence_s=silence_s
        )
        return await self.run(command, timeout)


class FastAGIServer:
    """Accepts Asterisk's FastAGI connections and runs ``handler(session)`` for each call."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 4573,
        *,
        command_timeout: float = 30.0,
        header_timeout: float = 5.0,
        close_timeout: float = 2.0,
        max_connections: int = 5000,
        backlog: int = 1024,
        on_command: CommandObserver | None = None,
    ) -> None:
        self._handler = handler
        self._host = host
        self._requested_port = port
        self._command_timeout = command_timeout
        self._header_timeout = header_timeout
        self._close_timeout = close_timeout
        self._max_connections = max_connections
        self._backlog = backlog
        self._on_command = on_command
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.sessions_total = 0
        self.rejected_total = 0

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the FastAGI server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def active_sessions(self) -> int:
        return len(self._tasks)

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connection, self._host, self._requested_port, backlog=self._backlog
        )
        logger.info("agi.server_started", host=self._host, port=self.port)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting, give running calls ``grace`` seconds, then cancel what is left."""
        if self._server is None:
            return
        self._server.close()
        running = set(self._tasks)
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                logger.warning("agi.server_cancelled_calls", count=len(late))
                await asyncio.wait(late, timeout=self._close_timeout)
        try:
            await asyncio.wait_for(self._server.wait_closed(), self._close_timeout)
        except TimeoutError:
            logger.warning("agi.server_close_timeout")
        self._server = None
        logger.info("agi.server_stopped", sessions_total=self.sessions_total)

    def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback, so the task is ours: asyncio 3.11 wraps a coroutine callback in a task
        # whose cancellation (our stop()) it then logs as an error.
        if len(self._tasks) >= self._max_connections:
            self.rejected_total += 1
            logger.warning("agi.connection_rejected", active=len(self._tasks))
            writer.close()
            return
        task = asyncio.create_task(self._run(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        finally:
            await self._close(writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = AGIConnection()
        peer = writer.get_extra_info("peername")
        try:
            async with asyncio.timeout(self._header_timeout):
                request = await _read_request(reader, connection)
        except TimeoutError:
            logger.warning("agi.header_timeout", peer=peer)
            return
        except AGIProtocolError as exc:
            logger.warning("agi.bad_header", peer=peer, error=str(exc))
            return
        except (ConnectionError, OSError) as exc:
            logger.info("agi.header_connection_error", peer=peer, error=str(exc))
            return
        if request is None:
            logger.info("agi.closed_before_request", peer=peer)
            return
        self.sessions_total += 1
        session = AGISession(
            reader,
            writer,
            connection,
            request,
            command_timeout=self._command_timeout,
            on_command=self._on_command,
        )
        session.log.info("agi.call_started", script=request.network_script)
        try:
            await self._handler(session)
        except AGIHangup as exc:
            session.log.info("agi.call_hungup", reason=str(exc))
        except AGIError as exc:
            session.log.warning("agi.call_failed", error=str(exc))
        except Exception:
            session.log.exception("agi.handler_crashed")
        else:
            session.log.info("agi.call_finished")

    async def _close(self, writer: asyncio.StreamWriter) -> None:
        writer.close()
        with contextlib.suppress(TimeoutError, ConnectionError, OSError):
            await asyncio.wait_for(writer.wait_closed(), self._close_timeout)


async def _read_request(
    reader: asyncio.StreamReader, connection: AGIConnection
) -> AGIRequest | None:
    """Read until the header's blank line; None if the peer closed first (no busy loop on EOF)."""
    while True:
        event = connection.next_event()
        if event is NEED_DATA:
            connection.receive_data(await reader.read(READ_CHUNK))
        elif isinstance(event, RequestReceived):
            return event.request
        elif isinstance(event, ConnectionClosed):
            return None
