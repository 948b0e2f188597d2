"""A scripted Asterisk manager on a loopback socket for the ACD tests.

It answers Login, answers QueueStatus with whatever listing the test set last (captured bytes from
queue_fixtures), answers other actions from a table, records every action, pushes events to the
connected clients and can drop them, as a restarting Asterisk would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from ami_fixtures import BANNER, LOGIN_OK, wire

BOUND = 10.0  # an upper bound on every wait, never a speed assertion


class ScriptedAsterisk:
    def __init__(self, status: Sequence[bytes]) -> None:
        self.status = list(status)
        self.answers: dict[str, bytes] = {}
        self.received: list[dict[str, str]] = []
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self, port: int = 0) -> ScriptedAsterisk:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def actions(self, name: str) -> list[dict[str, str]]:
        return [fields for fields in self.received if fields.get("Action") == name]

    async def push(self, *events: bytes) -> None:
        for writer in self._writers:
            writer.write(b"".join(events))
            await writer.drain()

    async def drop(self) -> None:
        """Close every client connection (the server keeps accepting new ones)."""
        writers, self._writers = self._writers, []
        for writer in writers:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def stop(self) -> None:
        await self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        writer.write(BANNER)
        with contextlib.suppress(ConnectionError):
            while fields := await _read_action(reader):
                self.received.append(fields)
                writer.write(self._answer(fields))
                await writer.drain()
        writer.close()

    def _answer(self, fields: dict[str, str]) -> bytes:
        action, action_id = fields.get("Action", ""), fields.get("ActionID", "")
        if action == "Login":
            return wire(LOGIN_OK, action_id)
        if action == "QueueStatus":
            return b"".join(wire(message, action_id) for message in self.status)
        return wire(self.answers[action], action_id) if action in self.answers else b""


async def _read_action(reader: asyncio.StreamReader) -> dict[str, str]:
    fields: dict[str, str] = {}
    while (line := (await reader.readline()).decode()) not in ("\r\n", ""):
        key, _, value = line.rstrip("\r\n").partition(": ")
        fields.setdefault(key, value)
    return fields
