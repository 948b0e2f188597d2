"""The asyncio AMI client against a scripted manager peer on a loopback socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from ami_fixtures import (
    BANNER,
    LOGIN_FAILED,
    LOGIN_OK,
    ORIGINATE_QUEUED,
    ORIGINATE_RESPONSE,
    PONG,
    QUEUE_ADD_ALREADY,
    QUEUE_ADD_OK,
    QUEUE_CALLER_JOIN,
    QUEUE_STATUS,
    message,
    wire,
)
from waiting import until

from ivr_engine.ami.client import AMIClient
from ivr_engine.ami.errors import (
    AMIActionError,
    AMIAuthError,
    AMIClosed,
    AMIConnectionError,
    AMIConnectionLost,
    AMINotConnected,
    AMITimeout,
)
from ivr_engine.ami.protocol import AMIEvent

BOUND = 10.0  # generous upper bound on every wait; never a speed assertion


class Peer:
    """Asterisk's side of one manager connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def receive(self) -> dict[str, str]:
        """Read one action; returns its fields (first value of each key)."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(BOUND):
            while (line := (await self.reader.readline()).decode()) not in ("\r\n", ""):
                key, _, value = line.rstrip("\r\n").partition(": ")
                fields.setdefault(key, value)
        return fields

    async def expect(self, action: str, *answers: bytes) -> dict[str, str]:
        fields = await self.receive()
        assert fields.get("Action") == action, fields
        await self.send(*(wire(answer, fields["ActionID"]) for answer in answers))
        return fields

    async def send(self, *data: bytes) -> None:
        self.writer.write(b"".join(data))
        await self.writer.drain()

    def close(self) -> None:
        self.writer.close()


class FakeManager:
    """A loopback AMI server; each connection is handed to the test through a queue."""

    def __init__(self) -> None:
        self.peers: asyncio.Queue[Peer] = asyncio.Queue()
        self.server: asyncio.Server | None = None
        self.banner = BANNER

    async def start(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", port)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(self.banner)
        await self.peers.put(Peer(reader, writer))

    async def next_peer(self) -> Peer:
        return await asyncio.wait_for(self.peers.get(), BOUND)

    async def logged_in_peer(self) -> Peer:
        peer = await self.next_peer()
        fields = await peer.expect("Login", LOGIN_OK)
        assert (fields["Username"], fields["Secret"], fields["Events"]) == ("ivr", "s3cret", "on")
        return peer

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.fixture
async def manager() -> AsyncIterator[FakeManager]:
    fake = FakeManager()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def make_client(
    manager: FakeManager,
) -> AsyncIterator[Callable[..., AMIClient]]:
    clients: list[AMIClient] = []

    def make(**options: object) -> AMIClient:
        options.setdefault("action_timeout", BOUND)
        options.setdefault("backoff_initial", 0.05)
        client = AMIClient(
            "127.0.0.1",
            manager.port,
            username="ivr",
            secret="s3cret",
            **options,  # type: ignore[arg-type]
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await asyncio.wait_for(client.close(), BOUND)


async def connected(client: AMIClient, manager: FakeManager) -> Peer:
    connecting = asyncio.create_task(client.connect())
    peer = await manager.logged_in_peer()
    await asyncio.wait_for(connecting, BOUND)
    return peer


async def test_login_action_and_events(manager: FakeManager, make_client) -> None:  # type: ignore[no-untyped-def]
    client: AMIClient = make_client()
    peer = await connected(client, manager)
    assert client.connected and client.version == "11.0.0"
    received: list[AMIEvent] = []
    client.on_event("QueueCallerJoin", received.append)
    async with client.subscribe("queuecallerjoin") as joins:
        queue_add = asyncio.create_task(
            client.action("QueueAdd", Queue="support", Interface="PJSIP/agent1", Paused=False)
        )
        fields = await peer.expect("QueueAdd", QUEUE_ADD_OK)
        assert fields["Paused"] == "false"
        response = await asyncio.wait_for(queue_add, BOUND)
        assert response.ok and response.message == "Added interface to queue"
        await peer.send(wire(QUEUE_CALLER_JOIN))
        event = await joins.get(timeout=BOUND)
    assert event.headers.get_all("ChanVariable") == ["IVR_PATH=1>3>2", "CUSTOMER_TIER=vip"]
    assert received == [event]


async def test_error_response_is_returned_and_can_be_raised(
    manager: FakeManager, make_client
) -> None:  # type: ignore[no-untyped-def]
    client: AMIClient = make_client()
    peer = await connected(client, manager)
    pending = asyncio.create_task(client.action("QueueAdd", Queue="support", Interface="PJSIP/a"))
    await peer.expect("QueueAdd", QUEUE_ADD_ALREADY)
    response = await asyncio.wait_for(pending, BOUND)
    assert not response.ok
    with pytest.raises(AMIActionError, match="Already there"):
        response.raise_for_error()


async def test_login_failure_raises_auth_error(manager: FakeManager, make_client) -> None:  # type: ignore[no-untyped-def]
    client: AMIClient = make_client()
    connecting = asyncio.create_task(client.connect())
    peer = await manager.next_peer()
    await peer.expect("Login", LOGIN_FAILED)
    peer.close()
    with pytest.raises(AMIAuthError, match="Authentication failed"):
        await asyncio.wait_for(connecting, BOUND)
    assert not client.connected


async def test_unreachable_manager_raises_connection_error() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    client = AMIClient("127.0.0.1", port, username="u", secret="s")
    with pytest.raises(AMIConnectionError, match="cannot reach AMI"):
        await client.connect()


async def test_wrong_banner_raises_connection_error(manager: FakeManager, make_client) -> None:  # type: ignore[no-untyped-def]
    manager.banner = b"HTTP/1.1 400 Bad Request\r\n"
    client: AMIClient = make_client()
    with pytest.raises(AMIConnectionError, match="not an Asterisk manager"):
        await asyncio.wait_for(client.connect(), BOUND)


async def test_queue_status_list_is_collected(manager: FakeManager, make_client) -> None:  # type: ignore[no-untyped-def]
    client: AMIClient = make_client()
    peer = await connected(client, manager)
    pending = asyncio.create_task(client.action("QueueStatus", Queue="support"))
    await peer.expect("QueueStatus", *QUEUE_STATUS)
    response = await asyncio.wait_for(pending, BOUND)
    assert [event.name for event in response.events] == ["QueueParams", "QueueMember", "QueueEntry"]
    assert response.completion is not None and response.completion["ListItems"] == "3"


async def test_originate_response_event_reaches_subscribers(
    manager: FakeManager, make_client
) -> None:  # type: ignore[no-untyped-def]
    client: AMIClient = make_client()
    peer = await connected(client, manager)
    async with client.subscribe("OriginateResponse") as results:
        pending = asyncio.create_task(
            client.action(
                "Originate", Channel="Local/100@callers", Async="true", Variable=["A=1", "B=2"]
            )
        )
        await peer.expect("Originate", ORIGINATE_QUEUED, ORIGINATE_RESPONSE)
        response = await asyncio.wait_for(pending, BOUND)
        event = await results.get(timeout=BOUND)
    assert event.action_id == response.action_id
    assert event["Response"] == "Success"


async def test_disconnect_mid_action_fails_it_at_once(manager: FakeManager, make_client) -> None:  # type: ignore[no-untyped-def]
    client: AMIClient = make_client(action_timeout=60.0, reconnect=False)
    peer = await connected(client, manager)
    pending = asyncio.create_task(client.action("QueueAdd", Queue="support", Interface="PJSIP/a"))
    await peer.receive()
    peer.close()
    # The action's own timeout is 60 s; it must fail with the disconnect, not with the timeout.
    with pytest.raises(AMIConnectionLost, match="may or may not have run"):
        await asyncio.wait_for(pending, BOUND)
    await until(lambda: not client.connected)
    with pytest.raises(AMINotConnected):
        await client.action("Ping", timeout=0.1)


async def test_reconnects_and_logs_in_again(manager: FakeManager, make_client) -> None:  # type: ignore[no-untyped-def]
    reconnected = asyncio.Event()

    async def on_connect() -> None:
        reconnected.set()

    client: AMIClient = make_client(on_connect=on_connect)
    first = await connected(client, manager)
    await asyncio.wait_for(reconnected.wait(), BOUND)
    reconnected.clear()
    first.close()
    second = await manager.logged_in_peer()
    await asyncio.wait_for(reconnected.wait(), BOUND)
    assert client.connects == 2
    pending = asyncio.create_task(client.action("Ping"))
    await second.expect("Ping", PONG)
    assert (await asyncio.wait_for(pending, BOUND)).get("Ping") == "Pong"


async def test_action_waits_for_reconnect_instead_of_failing(
    manager: FakeManager, make_client
) -> None:  # type: ignore[no-untyped-def]
    client: AMIClient = make_client()
    first = await connected(client, manager)
    first.close()
    await until(lambda: not client.connected)
    pending = asyncio.create_task(client.action("Ping"))
    second = await manager.logged_in_peer()
    await second.expect("Ping", PONG)
    assert (await asyncio.wait_for(pending, BOUND)).ok


async def test_reconnect_backs_off_while_manager_is_down(make_client) -> None:  # type: ignore[no-untyped-def]
    fake = FakeManager()
    await fake.start()
    port = fake.port
    client = AMIClient(
        "127.0.0.1", port, username="ivr", secret="s3cret", backoff_initial=0.05, backoff_max=0.2
    )
    try:
        connecting = asyncio.create_task(client.connect())
        peer = await fake.logged_in_peer()
        await asyncio.wait_for(connecting, BOUND)
        await fake.stop()
        peer.close()
        await until(lambda: not client.connected)
        with pytest.raises(AMINotConnected):
            await client.action("Ping", timeout=0.3)
        revived = FakeManager()
        await revived.start(port)
        peer = await revived.logged_in_peer()
        await until(lambda: client.connected)
        pending = asyncio.create_task(client.action("Ping"))
        await peer.expect("Ping", PONG)
        assert (await asyncio.wait_for(pending, BOUND)).ok
        await revived.stop()
    finally:
        await asyncio.wait_for(client.close(), BOUND)


async def test_action_timeout_and_late_answer_is_harmless(
    manager: FakeManager, make_client
) -> None:  # type: ignore[no-untyped-def]
    client: AMIClient = make_client()
    peer = await connected(client, manager)
    slow = asyncio.create_task(
        client.action("QueueAdd", Queue="q", Interface="PJSIP/a", timeout=0.2)
    )
    late = await peer.receive()
    with pytest.raises(AMITimeout, match="QueueAdd"):
        await asyncio.wait_for(slow, BOUND)
    await peer.send(wire(QUEUE_ADD_OK, late["ActionID"]))
    pending = asyncio.create_task(client.action("Ping"))
    await peer.expect("Ping", PONG)
    assert (await asyncio.wait_for(pending, BOUND)).get("Ping") == "Pong"


async def test_unanswered_ping_drops_half_open_connection(
    manager: FakeManager, make_client
) -> None:  # type: ignore[no-untyped-def]
    client: AMIClient = make_client(ping_interval=0.05, action_timeout=0.2)
    silent = await connected(client, manager)
    assert (await silent.receive())["Action"] == "Ping"  # never answered
    second = await manager.logged_in_peer()
    await until(lambda: client.connects == 2)
    await second.expect("Ping", PONG)


async def test_callback_errors_do_not_stop_delivery(manager: FakeManager, make_client) -> None:  # type: ignore[no-untyped-def]
    client: AMIClient = make_client()
    peer = await connected(client, manager)
    seen: list[str] = []
    failed: list[AMIEvent] = []

    def broken(event: AMIEvent) -> None:
        failed.append(event)
        raise RuntimeError("bug in a listener")

    client.on_event("*", broken)
    unsubscribe = client.on_event("Hangup", lambda event: seen.append(event["Channel"]))
    await peer.send(message("Event: Hangup\nChannel: PJSIP/a-1"))
    await until(lambda: seen == ["PJSIP/a-1"])
    unsubscribe()
    await peer.send(message("Event: Hangup\nChannel: PJSIP/a-2"))
    await until(lambda: len(failed) == 2)
    async with client.subscribe() as everything:
        await peer.send(message("Event: Hangup\nChannel: PJSIP/a-3"))
        assert (await everything.get(timeout=BOUND))["Channel"] == "PJSIP/a-3"
    assert seen == ["PJSIP/a-1"]


async def test_close_logs_off_and_ends_subscriptions(manager: FakeManager, make_client) -> None:  # type: ignore[no-untyped-def]
    client: AMIClient = make_client()
    peer = await connected(client, manager)
    async with client.subscribe("Hangup") as hangups:
        closing = asyncio.create_task(client.close())
        assert (await peer.receive())["Action"] == "Logoff"
        await asyncio.wait_for(closing, BOUND)
        with pytest.raises(AMIClosed):
            await hangups.get(timeout=BOUND)
    assert not client.connected
    with pytest.raises(AMIClosed):
        await client.action("Ping")
    await until(lambda: asyncio.all_tasks() == {asyncio.current_task()})  # nothing left running


async def test_slow_subscriber_drops_oldest_events(manager: FakeManager, make_client) -> None:  # type: ignore[no-untyped-def]
    client: AMIClient = make_client()
    peer = await connected(client, manager)
    async with client.subscribe("Hangup", maxsize=2) as hangups:
        await peer.send(*(message(f"Event: Hangup\nChannel: c{n}") for n in range(5)))
        await until(lambda: hangups.dropped == 3)
        assert [(await hangups.get(timeout=BOUND))["Channel"] for _ in range(2)] == ["c3", "c4"]
