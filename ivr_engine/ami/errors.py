"""Exceptions of the AMI layer."""

from __future__ import annotations


class AMIError(Exception):
    """Base class of everything the AMI layer raises."""


class AMIProtocolError(AMIError):
    """The peer is not speaking AMI (wrong banner, unbounded line or message)."""


class AMILocalError(AMIError, ValueError):
    """We built an action wrongly: bad name, field name, or a value with CR/LF/NUL in it."""


class AMIActionError(AMIError):
    """Asterisk answered ``Response: Error`` (raised by AMIResponse.raise_for_error())."""

    def __init__(self, action: str, status: str, message: str | None) -> None:
        super().__init__(f"{action}: Asterisk answered {status or 'nothing'}: {message or '-'}")
        self.action = action
        self.status = status
        self.message = message


class AMIAuthError(AMIError):
    """Login refused: wrong username/secret or an ACL (permit/deny) refusing our address."""


class AMIConnectionError(AMIError):
    """Cannot reach the manager port, or it closed during the handshake."""


class AMIConnectionLost(AMIError):
    """The connection dropped while an action waited; it may or may not have been applied."""


class AMINotConnected(AMIError):
    """No logged-in connection became available within the action's timeout."""


class AMITimeout(AMIError):
    """No answer to an action within its timeout."""


class AMIClosed(AMIError):
    """The client was closed."""
