"""The AMI user of asterisk_conf/manager.conf: the secret from the environment works, and the
user holds only the classes the engine needs."""

from __future__ import annotations

import asyncio

import pytest

from ivr_engine.pbx import AMI_USER, Pbx

pytestmark = pytest.mark.asterisk


async def ami_exchange(pbx: Pbx, *actions: dict[str, str]) -> list[dict[str, str]]:
    """Send actions over one raw AMI connection; return the Response message of each."""
    reader, writer = await asyncio.open_connection("127.0.0.1", pbx.ports.ami)
    try:
        await asyncio.wait_for(reader.readline(), 5)  # "Asterisk Call Manager/x.y.z"
        responses = []
        for number, action in enumerate(actions):
            fields = {**action, "ActionID": str(number)}
            writer.write(
                "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode() + b"\r\n"
            )
            await writer.drain()
            while True:
                block = (
                    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                ).decode()
                message = dict(
                    line.split(": ", 1)
                    for line in block.strip().splitlines()
                    if ": " in line
                )
                if "Response" in message and message.get("ActionID") == str(number):
                    responses.append(message)
                    break
        return responses
    finally:
        writer.close()


async def test_engine_user_logs_in_with_the_environment_secret_but_cannot_run_cli(
    pbx: Pbx,
) -> None:
    login, queues, command = await ami_exchange(
        pbx,
        {"Action": "Login", "Username": AMI_USER, "Secret": pbx.ami_secret},
        {"Action": "QueueSummary", "Queue": "operator"},
        {"Action": "Command", "Command": "core show version"},
    )
    assert login["Response"] == "Success"
    assert queues["Response"] == "Success"
    assert command["Response"] == "Error" and "Permission denied" in command["Message"]


async def test_wrong_secret_is_refused(pbx: Pbx) -> None:
    [login] = await ami_exchange(
        pbx,
        {"Action": "Login", "Username": AMI_USER, "Secret": "not-" + pbx.ami_secret},
    )
    assert login["Response"] == "Error"
