"""The FastAGI server over loopback sockets against a scripted Asterisk peer written here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import structlog
from agi_fixtures import header
from waiting import until

from ivr_engine.agi.commands import DigitsResult, Playback
from ivr_engine.agi.errors import (
    AGICommandError,
    AGIConnectionLost,
    AGIHangup,
    AGILocalProtocolError,
    AGITimeout,
)
from ivr_engine.agi.server import AGISession, FastAGIServer

BOUND = 10.0  # generous upper bound on every wait in these tests; never a speed assertion


class FakeAsterisk:
    """Plays Asterisk's side of one FastAGI connection, line by line."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def call(cls, port: int, head: bytes | None = None) -> FakeAsterisk:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        peer = cls(reader, writer)
        if head is not None:
            await peer.send(head)
        return peer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def expect(self, command: bytes, answer: bytes | None = None) -> None:
        line = await asyncio.wait_for(self.reader.readline(), BOUND)
        assert line == command
        if answer is not None:
            await self.send(answer)

    async def closed_by_server(self) -> bool:
        try:
            return await asyncio.wait_for(self.reader.read(), BOUND) == b""
        except ConnectionResetError:  # closed with our bytes unread: the kernel sends RST
            return True

    def close(self) -> None:
        self.writer.close()


Results = dict[str, object]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[FastAGIServer]]]:
    servers: list[FastAGIServer] = []

    async def start(
        handler: Callable[[AGISession], Awaitable[None]], **options: object
    ) -> FastAGIServer:
        options.setdefault("command_timeout", BOUND)
        server = FastAGIServer(handler, "127.0.0.1", 0, **options)  # type: ignore[arg-type]
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop(grace=1.0)


async def test_call_with_typed_commands_and_latency_observer(serve) -> None:  # type: ignore[no-untyped-def]
    seen: Results = {}
    observed: list[str] = []
    done = asyncio.Event()

    async def handler(session: AGISession) -> None:
        seen["caller"] = session.request.callerid
        await session.answer()
        seen["play"] = await session.stream_file("welcome", "12")
        seen["digits"] = await session.get_data("menu", 5000, 4)
        seen["var"] = await session.get_variable("CALLERID(name)")
        await session.set_variable("IVR_RESULT", 'a "quoted"\nvalue')
        seen["exec"] = await session.exec("Playback", "beep")
        done.set()

    server = await serve(handler, on_command=lambda name, seconds: observed.append(name))
    peer = await FakeAsterisk.call(server.port, header())
    await peer.expect(b"ANSWER\n", b"200 result=0\n")
    await peer.expect(b'STREAM FILE "welcome" "12"\n', b"200 result=50 endpos=1600\n")
    await peer.expect(b'GET DATA "menu" "5000" "4"\n', b"200 result= (timeout)\n")
    await peer.expect(b'GET VARIABLE "CALLERID(name)"\n', b"200 result=1 (Alice)\n")
    await peer.expect(b'SET VARIABLE "IVR_RESULT" "a \\"quoted\\"value"\n', b"200 result=1\n")
    await peer.expect(b'EXEC "Playback" "beep"\n', b"200 result=0\n")
    await asyncio.wait_for(done.wait(), BOUND)
    assert await peer.closed_by_server()
    assert seen == {
        "caller": "5551234",
        "play": Playback("2", 1600),
        "digits": DigitsResult("", True),
        "var": "Alice",
        "exec": 0,
    }
    assert observed == ["ANSWER", "STREAM FILE", "GET DATA", "GET VARIABLE", "SET VARIABLE", "EXEC"]
    await until(lambda: server.active_sessions == 0)
    assert server.sessions_total == 1


async def test_hangup_line_is_not_taken_as_the_answer(serve) -> None:  # type: ignore[no-untyped-def]
    seen: Results = {}

    async def handler(session: AGISession) -> None:
        seen["play"] = await session.stream_file("welcome")
        seen["hungup"] = session.hungup
        seen["var"] = await session.get_variable("X")
        try:
            await session.stream_file("next")
        except AGIHangup as exc:
            seen["error"] = str(exc)

    server = await serve(handler)
    peer = await FakeAsterisk.call(server.port, header())
    await peer.expect(b'STREAM FILE "welcome" ""\n', b"HANGUP\n200 result=0 endpos=100\n")
    await peer.expect(b'GET VARIABLE "X"\n', b"200 result=1 (x)\n")
    await peer.expect(
        b'STREAM FILE "next" ""\n',
        b"511 Command Not Permitted on a dead channel or intercept routine\n",
    )
    assert await peer.closed_by_server()
    assert seen["play"] == Playback(None, 100)
    assert seen["hungup"] is True
    assert seen["var"] == "x"
    assert "dead" in str(seen["error"])


async def test_multiline_520_raises_and_next_command_stays_aligned(serve) -> None:  # type: ignore[no-untyped-def]
    seen: Results = {}

    async def handler(session: AGISession) -> None:
        try:
            await session.command("DATABASE", "GET")
        except AGICommandError as exc:
            seen["usage"] = exc.response.usage
        seen["var"] = await session.get_variable("TRANSFER")

    server = await serve(handler)
    peer = await FakeAsterisk.call(server.port, header())
    await peer.expect(
        b'DATABASE "GET"\n',
        b"520-Invalid command syntax.  Proper usage follows:\n"
        b"Usage: DATABASE GET <family> <key>\n"
        b"520 End of proper usage.\n",
    )
    await peer.expect(b'GET VARIABLE "TRANSFER"\n', b"200 result=1 (transfer)\n")
    assert await peer.closed_by_server()
    assert seen == {"usage": ("Usage: DATABASE GET <family> <key>",), "var": "transfer"}


def recording_handler() -> tuple[list[AGISession], Callable[[AGISession], Awaitable[None]]]:
    called: list[AGISession] = []

    async def handler(session: AGISession) -> None:
        called.append(session)

    return called, handler


async def test_close_before_blank_line_does_not_spin_or_call_handler(serve) -> None:  # type: ignore[no-untyped-def]
    called, handler = recording_handler()
    server = await serve(handler)
    with structlog.testing.capture_logs() as logs:
        peer = await FakeAsterisk.call(server.port, b"agi_network: yes\nagi_request: agi://x/")
        await until(lambda: server.active_sessions == 1)
        peer.close()
        await until(lambda: server.active_sessions == 0)
    assert called == []
    assert server.sessions_total == 0
    assert [entry["event"] for entry in logs] == ["agi.closed_before_request"]


async def test_garbage_header_is_refused(serve) -> None:  # type: ignore[no-untyped-def]
    called, handler = recording_handler()
    server = await serve(handler)
    with structlog.testing.capture_logs() as logs:
        peer = await FakeAsterisk.call(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await peer.closed_by_server()
    assert called == []
    assert logs[0]["event"] == "agi.bad_header"


async def test_silent_peer_hits_header_timeout(serve) -> None:  # type: ignore[no-untyped-def]
    async def handler(session: AGISession) -> None:
        raise AssertionError("no request was sent")

    server = await serve(handler, header_timeout=0.2)
    peer = await FakeAsterisk.call(server.port)
    assert await peer.closed_by_server()
    await until(lambda: server.active_sessions == 0)


async def test_eof_mid_command_raises_connection_lost(serve) -> None:  # type: ignore[no-untyped-def]
    seen: Results = {}

    async def handler(session: AGISession) -> None:
        try:
            await session.get_data("menu", 5000, 4)
        except AGIConnectionLost as exc:
            seen["error"] = exc
            seen["hungup"] = session.hungup
        with pytest.raises(AGIConnectionLost, match="unusable"):
            await session.answer()
        seen["after"] = True

    server = await serve(handler)
    peer = await FakeAsterisk.call(server.port, header())
    await peer.expect(b'GET DATA "menu" "5000" "4"\n', b"200 result=1")
    peer.close()
    await until(lambda: "after" in seen)
    assert isinstance(seen["error"], AGIHangup)
    assert "GET DATA" in str(seen["error"])
    assert seen["hungup"] is True
    await until(lambda: server.active_sessions == 0)


async def test_command_timeout_closes_the_desynchronised_session(serve) -> None:  # type: ignore[no-untyped-def]
    seen: Results = {}

    async def handler(session: AGISession) -> None:
        with pytest.raises(AGITimeout, match="EXEC"):
            await session.exec("Wait", "60", timeout=0.2)
        with pytest.raises(AGIConnectionLost):
            await session.answer()
        seen["done"] = True

    server = await serve(handler)
    peer = await FakeAsterisk.call(server.port, header())
    await peer.expect(b'EXEC "Wait" "60"\n')
    assert await peer.closed_by_server()
    await until(lambda: "done" in seen)


async def test_second_command_while_first_outstanding_is_refused(serve) -> None:  # type: ignore[no-untyped-def]
    seen: Results = {}

    async def handler(session: AGISession) -> None:
        first = asyncio.create_task(session.stream_file("long"))
        await asyncio.sleep(0)
        with pytest.raises(AGILocalProtocolError, match="not been answered"):
            await session.get_variable("X")
        seen["first"] = await first

    server = await serve(handler)
    peer = await FakeAsterisk.call(server.port, header())
    await peer.expect(b'STREAM FILE "long" ""\n', b"200 result=0 endpos=5\n")
    assert await peer.closed_by_server()
    assert seen["first"] == Playback(None, 5)


async def test_handler_exception_is_logged_and_server_keeps_serving(serve) -> None:  # type: ignore[no-untyped-def]
    calls: list[str | None] = []

    async def handler(session: AGISession) -> None:
        calls.append(session.request.uniqueid)
        if len(calls) == 1:
            raise RuntimeError("flow bug")
        await session.answer()

    server = await serve(handler)
    with structlog.testing.capture_logs() as logs:
        first = await FakeAsterisk.call(server.port, header(agi_uniqueid="1.1"))
        assert await first.closed_by_server()
        second = await FakeAsterisk.call(server.port, header(agi_uniqueid="1.2"))
        await second.expect(b"ANSWER\n", b"200 result=0\n")
        assert await second.closed_by_server()
    crash = next(entry for entry in logs if entry["event"] == "agi.handler_crashed")
    assert crash["call_id"] == "1.1"
    assert crash["caller"] == "5551234"
    assert crash["channel"] == "PJSIP/caller-00000001"
    assert crash["log_level"] == "error"
    assert calls == ["1.1", "1.2"]


async def test_finished_handler_leaves_no_task_running(serve) -> None:  # type: ignore[no-untyped-def]
    async def handler(session: AGISession) -> None:
        await session.answer()

    server = await serve(handler)
    baseline = len(asyncio.all_tasks())
    for n in range(5):
        peer = await FakeAsterisk.call(server.port, header(agi_uniqueid=f"9.{n}"))
        await peer.expect(b"ANSWER\n", b"200 result=0\n")
        assert await peer.closed_by_server()
        peer.close()
    await until(lambda: server.active_sessions == 0)
    await until(lambda: len(asyncio.all_tasks()) == baseline)
    assert server.sessions_total == 5


async def test_max_connections_rejects_extra_calls(serve) -> None:  # type: ignore[no-untyped-def]
    release = asyncio.Event()

    async def handler(session: AGISession) -> None:
        await asyncio.wait_for(release.wait(), BOUND)

    server = await serve(handler, max_connections=2)
    peers = [await FakeAsterisk.call(server.port, header()) for _ in range(2)]
    await until(lambda: server.active_sessions == 2)
    extra = await FakeAsterisk.call(server.port, header())
    assert await extra.closed_by_server()
    assert server.rejected_total == 1
    release.set()
    for peer in peers:
        assert await peer.closed_by_server()


async def test_graceful_stop_lets_short_calls_finish_and_cancels_long_ones(serve) -> None:  # type: ignore[no-untyped-def]
    seen: Results = {}

    async def handler(session: AGISession) -> None:
        try:
            seen[session.request.uniqueid or ""] = await session.exec("Wait", "1")
        except asyncio.CancelledError:
            seen["cancelled"] = session.request.uniqueid
            raise

    server = await serve(handler)
    short = await FakeAsterisk.call(server.port, header(agi_uniqueid="short"))
    long = await FakeAsterisk.call(server.port, header(agi_uniqueid="long"))
    await short.expect(b'EXEC "Wait" "1"\n')
    await long.expect(b'EXEC "Wait" "1"\n')
    port = server.port
    stopping = asyncio.create_task(server.stop(grace=0.5))
    await asyncio.sleep(0.05)
    with pytest.raises(OSError):  # no longer accepting
        await asyncio.open_connection("127.0.0.1", port)
    await short.send(b"200 result=0\n")
    await asyncio.wait_for(stopping, BOUND)
    assert seen == {"short": 0, "cancelled": "long"}
    assert server.active_sessions == 0
    assert await long.closed_by_server()


async def test_two_thousand_concurrent_calls(serve) -> None:  # type: ignore[no-untyped-def]
    count = 2000
    all_in = asyncio.Event()
    answered: list[str] = []

    async def handler(session: AGISession) -> None:
        await asyncio.wait_for(all_in.wait(), 60)
        answered.append(await session.get_variable("N") or "")

    server = await serve(handler, backlog=count)
    gate = asyncio.Semaphore(200)  # stagger connects, keep every connection open

    async def one(n: int) -> FakeAsterisk:
        async with gate:
            return await FakeAsterisk.call(server.port, header(agi_uniqueid=f"c.{n}"))

    peers = await asyncio.wait_for(asyncio.gather(*(one(n) for n in range(count))), 60)
    await until(lambda: server.active_sessions == count)
    all_in.set()

    async def answer(peer: FakeAsterisk, n: int) -> None:
        await peer.expect(b'GET VARIABLE "N"\n', b"200 result=1 (%d)\n" % n)
        assert await peer.closed_by_server()
        peer.close()

    await asyncio.wait_for(asyncio.gather(*(answer(p, n) for n, p in enumerate(peers))), 60)
    assert sorted(answered, key=int) == [str(n) for n in range(count)]
    assert server.sessions_total == count
    await until(lambda: server.active_sessions == 0)


async def test_failing_latency_observer_does_not_end_the_call(serve) -> None:  # type: ignore[no-untyped-def]
    seen: Results = {}

    def observer(name: str, seconds: float) -> None:
        raise RuntimeError("metrics backend down")

    async def handler(session: AGISession) -> None:
        await session.answer()
        seen["digit"] = await session.wait_for_digit(100)

    server = await serve(handler, on_command=observer)
    with structlog.testing.capture_logs() as logs:
        peer = await FakeAsterisk.call(server.port, header())
        await peer.expect(b"ANSWER\n", b"200 result=0\n")
        await peer.expect(b'WAIT FOR DIGIT "100"\n', b"200 result=0\n")
        assert await peer.closed_by_server()
    assert seen == {"digit": None}
    failures = [entry for entry in logs if entry["event"] == "agi.on_command_failed"]
    assert [entry["command"] for entry in failures] == ["ANSWER", "WAIT FOR DIGIT"]


async def test_cancelled_command_closes_the_session(serve) -> None:  # type: ignore[no-untyped-def]
    seen: Results = {}

    async def handler(session: AGISession) -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(session.stream_file("long"), 0.1)
        seen["hungup"] = session.hungup
        with pytest.raises(AGIConnectionLost, match="cancelled"):
            await session.answer()

    server = await serve(handler)
    peer = await FakeAsterisk.call(server.port, header())
    await peer.expect(b'STREAM FILE "long" ""\n')
    assert await peer.closed_by_server()
    await until(lambda: server.active_sessions == 0)
    assert seen == {"hungup": True}
