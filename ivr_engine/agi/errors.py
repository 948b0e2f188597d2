"""Exceptions of the AGI layer, shared by the protocol, the typed commands and the server."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivr_engine.agi.protocol import AGIResponse


class AGIError(Exception):
    """Base class of everything the AGI layer raises."""


class AGIProtocolError(AGIError):
    """The peer sent bytes that are not FastAGI (garbage, oversized header, unexpected answer)."""


class AGILocalProtocolError(AGIError):
    """We used the protocol wrongly: a second command before the answer, a command too long..."""


class AGIHangup(AGIError):
    """The channel is gone: Asterisk answered 511 or the call hung up."""


class AGIConnectionLost(AGIHangup):
    """The TCP connection to Asterisk closed or failed; the call is out of our hands."""


class AGITimeout(AGIError):
    """No answer within the command timeout; the session is closed (stream desynchronised)."""


class AGICommandError(AGIError):
    """Asterisk rejected the command: 510 (unknown), 520 (usage error) or another error code."""

    def __init__(self, command: str, response: AGIResponse) -> None:
        detail = response.text or response.raw
        if response.usage:
            detail = f"{detail} usage: {' / '.join(response.usage)}"
        super().__init__(f"{command}: Asterisk answered {response.code}: {detail}")
        self.command = command
        self.response = response


class AGICommandFailed(AGIError):
    """The command ran but reported failure (typically result=-1: missing file, channel failure)."""

    def __init__(self, command: str, response: AGIResponse, reason: str) -> None:
        super().__init__(f"{command} failed ({reason}): {response.raw}")
        self.command = command
        self.response = response
