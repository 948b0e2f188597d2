"""AMI bytes captured from a real Asterisk 22.10.1 (Debian forky package), ActionIDs templated.

Captured over a raw socket with manager.conf ``channelvars = IVR_PATH,CUSTOMER_TIER``; QUEUE_STATUS
joins the QueueMember block of one QueueStatus answer with the QueueEntry block of another (a
member and a waiting caller), ListItems adjusted. ``wire(fixture, action_id)`` fills the ActionID.
"""

from __future__ import annotations

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def wire(fixture: bytes, action_id: str = "") -> bytes:
    return fixture.replace(b"{id}", action_id.encode())


def message(text: str) -> bytes:
    """A hand-written message: lines joined with CRLF, ended by the blank line."""
    return "".join(f"{line}\r\n" for line in text.strip("\n").split("\n")).encode() + b"\r\n"


LOGIN_OK = b"Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n"

LOGIN_FAILED = b"Response: Error\r\nActionID: {id}\r\nMessage: Authentication failed\r\n\r\n"

FULLY_BOOTED = (
    b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 12\r\nLastReload: 12\r\n"
    b"Status: Fully Booted\r\n\r\n"
)

QUEUE_ADD_OK = b"Response: Success\r\nActionID: {id}\r\nMessage: Added interface to queue\r\n\r\n"

QUEUE_ADD_ALREADY = (
    b"Response: Error\r\nActionID: {id}\r\nMessage: Unable to add interface: Already there\r\n\r\n"
)

QUEUE_ADD_NO_QUEUE = (
    b"Response: Error\r\nActionID: {id}\r\n"
    b"Message: Unable to add interface to queue: No such queue\r\n\r\n"
)

QUEUE_STATUS = [
    b"Response: Success\r\nActionID: {id}\r\nEventList: start\r\n"
    b"Message: Queue status will follow\r\n\r\n",
    b"Event: QueueParams\r\nQueue: support\r\nMax: 0\r\nStrategy: rrmemory\r\nCalls: 1\r\n"
    b"Holdtime: 0\r\nTalkTime: 0\r\nCompleted: 0\r\nAbandoned: 1\r\nServiceLevel: 0\r\n"
    b"ServicelevelPerf: 0.0\r\nServicelevelPerf2: 0.0\r\nWeight: 0\r\nActionID: {id}\r\n\r\n",
    b"Event: QueueMember\r\nQueue: support\r\nName: agent1\r\nLocation: Local/200@test\r\n"
    b"StateInterface: Local/200@test\r\nMembership: dynamic\r\nPenalty: 1\r\nCallsTaken: 0\r\n"
    b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795465578\r\nInCall: 0\r\nStatus: 1\r\n"
    b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n",
    b"Event: QueueEntry\r\nQueue: support\r\nPosition: 1\r\n"
    b"Channel: Local/300@callers-00000002;2\r\nUniqueid: 1795465623.6\r\nCallerIDNum: unknown\r\n"
    b"CallerIDName: unknown\r\nConnectedLineNum: unknown\r\nConnectedLineName: unknown\r\n"
    b"Wait: 1\r\nPriority: 0\r\nActionID: {id}\r\n\r\n",
    b"Event: QueueStatusComplete\r\nActionID: {id}\r\nEventList: Complete\r\nListItems: 3\r\n\r\n",
]

ORIGINATE_QUEUED = (
    b"Response: Success\r\nActionID: {id}\r\nMessage: Originate successfully queued\r\n\r\n"
)

ORIGINATE_RESPONSE = (
    b"Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: {id}\r\nResponse: Success\r\n"
    b"Channel: Local/200@test-00000003;1\r\nApplication: Wait\r\nData: 1\r\nReason: 4\r\n"
    b"Uniqueid: 1795465623.5\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\n"
    b"ChanVariable(Local/200@test-00000003;1): IVR_PATH=\r\n"
    b"ChanVariable(Local/200@test-00000003;1): CUSTOMER_TIER=\r\n\r\n"
)

ORIGINATE_FAILED = (
    b"Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: {id}\r\nResponse: Failure\r\n"
    b"Channel: Local/300@callers\r\nApplication: Wait\r\nData: 1\r\nReason: 0\r\n"
    b"Uniqueid: <unknown>\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\n\r\n"
)

QUEUE_CALLER_JOIN = (
    b"Event: QueueCallerJoin\r\nPrivilege: agent,all\r\nChannel: Local/300@callers-00000001;2\r\n"
    b"ChannelState: 4\r\nChannelStateDesc: Ring\r\nCallerIDNum: <unknown>\r\n"
    b"CallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\n"
    b"Language: en\r\nAccountCode: \r\nContext: callers\r\nExten: 300\r\nPriority: 3\r\n"
    b"Uniqueid: 1795465608.3\r\nLinkedid: 1795465608.2\r\nChanVariable: IVR_PATH=1>3>2\r\n"
    b"ChanVariable: CUSTOMER_TIER=vip\r\nQueue: support\r\nPosition: 1\r\nCount: 1\r\n\r\n"
)

COMMAND_OUTPUT = (
    b"Response: Success\r\nActionID: {id}\r\nMessage: Command output follows\r\n"
    b"Output: support has 0 calls (max unlimited) in 'rrmemory' strategy (0s holdtime, 0s "
    b"talktime), W:0, C:0, A:0, SL:0.0%, SL2:0.0% within 0s\r\n"
    b"Output:    Members: \r\n"
    b"Output:       agent1 (Local/200@test) with penalty 1 (ringinuse enabled) (dynamic) "
    b"(Not in use) has taken no calls yet (login was 8 secs ago)\r\n"
    b"Output:    No Callers\r\nOutput: \r\nOutput: \r\n\r\n"
)

PONG = b"Response: Success\r\nActionID: {id}\r\nPing: Pong\r\nTimestamp: 1795465588.981928\r\n\r\n"

GOODBYE = b"Response: Goodbye\r\nActionID: {id}\r\nMessage: Thanks for all the fish.\r\n\r\n"
