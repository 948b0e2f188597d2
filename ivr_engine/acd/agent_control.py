"""Supervisor actions on queue members: pause, unpause, add, remove, change penalty.

Names come from a supervisor's screen, so they are checked before anything reaches AMI: queue and
interface names only ``[A-Za-z0-9/_.@-]`` (no CR/LF that would start a new AMI header, no ``,`` or
``|`` that split app_queue's arguments and queue_log fields). Free text (a pause reason, a member's
display name) may be any printable text in any script, but not ``|`` (queue_log's separator) nor
control characters, and at most 79 characters (app_queue's buffer).

Every call is bounded by `timeout`; Asterisk's refusal (no such queue, not a dynamic member, ...)
is raised as AMIActionError with Asterisk's message, a bad name as InvalidName.
"""

from __future__ import annotations

import re

from ivr_engine.ami.client import AMIClient
from ivr_engine.ami.protocol import AMIResponse, FieldValue

_NAME = re.compile(r"[A-Za-z0-9/_.@-]{1,128}")
_TEXT = re.compile(r"[^|\x00-\x1f\x7f]{0,79}")


class InvalidName(ValueError):
    """A queue, interface or text a supervisor typed cannot be sent to Asterisk."""


def checked_name(kind: str, value: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidName(f"{kind} {value!r}: use 1-128 of A-Z a-z 0-9 / _ . @ -")
    return value


def checked_text(kind: str, value: str) -> str:
    if not isinstance(value, str) or not _TEXT.fullmatch(value):
        raise InvalidName(f"{kind} {value!r}: at most 79 printable characters, no '|'")
    return value


def checked_penalty(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
        raise InvalidName(f"penalty {value!r}: a whole number from 0")
    return value


class AgentControl:
    def __init__(self, client: AMIClient, *, timeout: float = 5.0) -> None:
        self.client = client
        self.timeout = timeout

    async def pause(self, queue: str | None, interface: str, reason: str = "") -> AMIResponse:
        """Pause `interface` in `queue` (None: in every queue it is a member of)."""
        return await self._pause(queue, interface, paused=True, reason=reason)

    async def unpause(self, queue: str | None, interface: str, reason: str = "") -> AMIResponse:
        return await self._pause(queue, interface, paused=False, reason=reason)

    async def add_member(
        self,
        queue: str,
        interface: str,
        *,
        penalty: int = 0,
        paused: bool = False,
        member_name: str = "",
        state_interface: str | None = None,
        reason: str = "",
    ) -> AMIResponse:
        """Add a dynamic member; app_queue keeps it across restarts (persistentmembers = yes)."""
        fields: dict[str, FieldValue] = {
            "Queue": checked_name("queue", queue),
            "Interface": checked_name("interface", interface),
            "Penalty": checked_penalty(penalty),
            "Paused": paused,
        }
        if member_name:
            fields["MemberName"] = checked_text("member name", member_name)
        if state_interface is not None:
            fields["StateInterface"] = checked_name("state interface", state_interface)
        if reason:
            fields["Reason"] = checked_text("reason", reason)
        return await self._send("QueueAdd", fields)

    async def remove_member(self, queue: str, interface: str) -> AMIResponse:
        """Remove a dynamic member (members of queues.conf cannot be: "Member not dynamic")."""
        return await self._send(
            "QueueRemove",
            {
                "Queue": checked_name("queue", queue),
                "Interface": checked_name("interface", interface),
            },
        )

    async def set_penalty(self, queue: str | None, interface: str, penalty: int) -> AMIResponse:
        """Set the member's penalty in `queue` (None: in every queue)."""
        fields: dict[str, FieldValue] = {
            "Interface": checked_name("interface", interface),
            "Penalty": checked_penalty(penalty),
        }
        if queue is not None:
            fields["Queue"] = checked_name("queue", queue)
        return await self._send("QueuePenalty", fields)

    async def _pause(
        self, queue: str | None, interface: str, *, paused: bool, reason: str
    ) -> AMIResponse:
        fields: dict[str, FieldValue] = {
            "Interface": checked_name("interface", interface),
            "Paused": paused,
        }
        if queue is not None:
            fields["Queue"] = checked_name("queue", queue)
        if reason:
            fields["Reason"] = checked_text("reason", reason)
        return await self._send("QueuePause", fields)

    async def _send(self, action: str, fields: dict[str, FieldValue]) -> AMIResponse:
        response = await self.client.action(action, timeout=self.timeout, **fields)
        return response.raise_for_error()
