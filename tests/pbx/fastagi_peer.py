"""A minimal FastAGI peer for harness tests: plain asyncio, independent of the engine's AGI code,
so these tests check the PBX and the SIP callers, not our own protocol implementation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class AgiSession:
    header: dict[str, str]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    sent: list[str] = field(default_factory=list)  # the commands, each answered in `replies`
    replies: list[str] = field(default_factory=list)

    async def command(self, line: str) -> str:
        self.sent.append(line)
        self.writer.write(line.encode() + b"\n")
        await self.writer.drain()
        reply = (await asyncio.wait_for(self.reader.readline(), 30)).decode().strip()
        self.replies.append(reply)
        return reply

    @staticmethod
    def result(reply: str) -> str:
        """`200 result=50` -> "50"; `200 result=4*7` -> "4*7"."""
        assert reply.startswith("200 result="), reply
        return reply.removeprefix("200 result=").split(" ")[0]


Script = Callable[[AgiSession], Awaitable[None]]


@asynccontextmanager
async def fastagi_server(script: Script) -> AsyncIterator[tuple[str, list[AgiSession]]]:
    """Serve `script` for every call; yields (agi URL, sessions so far)."""
    sessions: list[AgiSession] = []

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        header: dict[str, str] = {}
        while line := (await reader.readline()).decode().rstrip("\n"):
            key, _, value = line.partition(": ")
            header[key] = value
        session = AgiSession(header, reader, writer)
        sessions.append(session)
        try:
            await script(session)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"agi://127.0.0.1:{port}/harness-test", sessions
    finally:
        server.close()
        await server.wait_closed()


async def collect_keys(session: AgiSession, count: int, *, hang_up: bool = True) -> None:
    """ANSWER, then WAIT FOR DIGIT until `count` keys arrived (or a 10 s silence); keys in
    session.replies. Then HANGUP, as the engine ends a call it finished, unless `hang_up` is
    false: the session just closes, as when the engine dies."""
    await session.command("ANSWER")
    for _ in range(count):
        if int(AgiSession.result(await session.command("WAIT FOR DIGIT 10000"))) <= 0:
            break
    if hang_up:
        await session.command("HANGUP")


def keys_of(session: AgiSession) -> str:
    waits = zip(session.sent, session.replies, strict=False)
    codes = [int(AgiSession.result(r)) for c, r in waits if c.startswith("WAIT FOR DIGIT")]
    return "".join(chr(code) for code in codes if code > 0)
