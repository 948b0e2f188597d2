"""AMI bytes captured from a real Asterisk 22.10.1 (Debian forky) running asterisk_conf/, ActionIDs
templated as ``{id}`` (fill with ami_fixtures.wire).

One session, in this order: QueueStatus with nobody logged in (the four static agents of `operator`
unreachable), a caller joins `operator` and waits, QueueStatus while it waits, it hangs up
(abandon), agent1's phone comes up, a second caller is rung through to agent1 and talks, the call
ends, agent1 is paused and unpaused, agent3 is added to `complaints`, its penalty changed, removed.
Unrelated events of the same stream (DeviceStateChange, Newchannel) are kept as NOISE.
"""

from __future__ import annotations

# QueueStatus Queue=operator: nobody reachable, nobody waiting.
STATUS_IDLE = [
    (
        b"Response: Success\r\nActionID: {id}\r\nEventList: start\r\n"
        b"Message: Queue status will follow\r\n\r\n"
    ),
    (
        b"Event: QueueParams\r\nQueue: operator\r\nMax: 0\r\nStrategy: leastrecent\r\n"
        b"Calls: 0\r\nHoldtime: 0\r\nTalkTime: 0\r\nCompleted: 0\r\nAbandoned: 0\r\n"
        b"ServiceLevel: 20\r\nServicelevelPerf: 0.0\r\nServicelevelPerf2: 0.0\r\nWeight: 0\r\n"
        b"ActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent1\r\nLocation: PJSIP/agent1\r\n"
        b"StateInterface: PJSIP/agent1\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent2\r\nLocation: PJSIP/agent2\r\n"
        b"StateInterface: PJSIP/agent2\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent3\r\nLocation: PJSIP/agent3\r\n"
        b"StateInterface: PJSIP/agent3\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent4\r\nLocation: PJSIP/agent4\r\n"
        b"StateInterface: PJSIP/agent4\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueStatusComplete\r\nActionID: {id}\r\nEventList: Complete\r\n"
        b"ListItems: 5\r\n\r\n"
    ),
]

# The first caller (1000) joins operator.
CALLER_JOIN = (
    b"Event: QueueCallerJoin\r\nPrivilege: agent,all\r\nTimestamp: 1795468952.418897\r\n"
    b"Channel: PJSIP/callers-00000000\r\nChannelState: 6\r\nChannelStateDesc: Up\r\n"
    b"CallerIDNum: 1000\r\nCallerIDName: 1000\r\nConnectedLineNum: <unknown>\r\n"
    b"ConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\n"
    b"Context: ivr-queues\r\nExten: operator\r\nPriority: 2\r\nUniqueid: 1795468951.0\r\n"
    b"Linkedid: 1795468951.0\r\nQueue: operator\r\nPosition: 1\r\nCount: 1\r\n\r\n"
)

# QueueStatus while the first caller waits (Wait: 3).
STATUS_WAITING = [
    (
        b"Response: Success\r\nActionID: {id}\r\nEventList: start\r\n"
        b"Message: Queue status will follow\r\n\r\n"
    ),
    (
        b"Event: QueueParams\r\nQueue: operator\r\nMax: 0\r\nStrategy: leastrecent\r\n"
        b"Calls: 1\r\nHoldtime: 0\r\nTalkTime: 0\r\nCompleted: 0\r\nAbandoned: 0\r\n"
        b"ServiceLevel: 20\r\nServicelevelPerf: 0.0\r\nServicelevelPerf2: 0.0\r\nWeight: 0\r\n"
        b"ActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent1\r\nLocation: PJSIP/agent1\r\n"
        b"StateInterface: PJSIP/agent1\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent2\r\nLocation: PJSIP/agent2\r\n"
        b"StateInterface: PJSIP/agent2\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent3\r\nLocation: PJSIP/agent3\r\n"
        b"StateInterface: PJSIP/agent3\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent4\r\nLocation: PJSIP/agent4\r\n"
        b"StateInterface: PJSIP/agent4\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueEntry\r\nQueue: operator\r\nPosition: 1\r\n"
        b"Channel: PJSIP/callers-00000000\r\nUniqueid: 1795468951.0\r\nCallerIDNum: 1000\r\n"
        b"CallerIDName: 1000\r\nConnectedLineNum: unknown\r\nConnectedLineName: unknown\r\n"
        b"Wait: 3\r\nPriority: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueStatusComplete\r\nActionID: {id}\r\nEventList: Complete\r\n"
        b"ListItems: 6\r\n\r\n"
    ),
]

# It hangs up after 5 s: QueueCallerAbandon, then QueueCallerLeave.
CALLER_ABANDON = (
    b"Event: QueueCallerAbandon\r\nPrivilege: agent,all\r\nTimestamp: 1795468957.926843\r\n"
    b"Channel: PJSIP/callers-00000000\r\nChannelState: 6\r\nChannelStateDesc: Up\r\n"
    b"CallerIDNum: 1000\r\nCallerIDName: 1000\r\nConnectedLineNum: <unknown>\r\n"
    b"ConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\n"
    b"Context: ivr-queues\r\nExten: operator\r\nPriority: 2\r\nUniqueid: 1795468951.0\r\n"
    b"Linkedid: 1795468951.0\r\nQueue: operator\r\nPosition: 1\r\nOriginalPosition: 1\r\n"
    b"HoldTime: 5\r\n\r\n"
)

CALLER_LEAVE_ABANDONED = (
    b"Event: QueueCallerLeave\r\nPrivilege: agent,all\r\nTimestamp: 1795468957.926903\r\n"
    b"Channel: PJSIP/callers-00000000\r\nChannelState: 6\r\nChannelStateDesc: Up\r\n"
    b"CallerIDNum: 1000\r\nCallerIDName: 1000\r\nConnectedLineNum: <unknown>\r\n"
    b"ConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\n"
    b"Context: ivr-queues\r\nExten: operator\r\nPriority: 2\r\nUniqueid: 1795468951.0\r\n"
    b"Linkedid: 1795468951.0\r\nQueue: operator\r\nPosition: 1\r\nCount: 0\r\n\r\n"
)

# QueueStatus after the abandon: Abandoned 1.
STATUS_ABANDONED = [
    (
        b"Response: Success\r\nActionID: {id}\r\nEventList: start\r\n"
        b"Message: Queue status will follow\r\n\r\n"
    ),
    (
        b"Event: QueueParams\r\nQueue: operator\r\nMax: 0\r\nStrategy: leastrecent\r\n"
        b"Calls: 0\r\nHoldtime: 0\r\nTalkTime: 0\r\nCompleted: 0\r\nAbandoned: 1\r\n"
        b"ServiceLevel: 20\r\nServicelevelPerf: 0.0\r\nServicelevelPerf2: 100.0\r\nWeight: 0\r\n"
        b"ActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent1\r\nLocation: PJSIP/agent1\r\n"
        b"StateInterface: PJSIP/agent1\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent2\r\nLocation: PJSIP/agent2\r\n"
        b"StateInterface: PJSIP/agent2\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent3\r\nLocation: PJSIP/agent3\r\n"
        b"StateInterface: PJSIP/agent3\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent4\r\nLocation: PJSIP/agent4\r\n"
        b"StateInterface: PJSIP/agent4\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueStatusComplete\r\nActionID: {id}\r\nEventList: Complete\r\n"
        b"ListItems: 5\r\n\r\n"
    ),
]

# agent1's phone answers OPTIONS: Status 1 (not in use).
MEMBER_REACHABLE = (
    b"Event: QueueMemberStatus\r\nPrivilege: agent,all\r\nTimestamp: 1795468959.658515\r\n"
    b"Queue: operator\r\nMemberName: agent1\r\nInterface: PJSIP/agent1\r\n"
    b"StateInterface: PJSIP/agent1\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
    b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 1\r\n"
    b"Paused: 0\r\nPausedReason: \r\nRinginuse: 0\r\nWrapuptime: 0\r\n\r\n"
)

# The second caller joins; agent1 rings (Status 6).
CALLER2_JOIN = (
    b"Event: QueueCallerJoin\r\nPrivilege: agent,all\r\nTimestamp: 1795468961.328870\r\n"
    b"Channel: PJSIP/callers-00000001\r\nChannelState: 6\r\nChannelStateDesc: Up\r\n"
    b"CallerIDNum: 1000\r\nCallerIDName: 1000\r\nConnectedLineNum: <unknown>\r\n"
    b"ConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\n"
    b"Context: ivr-queues\r\nExten: operator\r\nPriority: 2\r\nUniqueid: 1795468960.1\r\n"
    b"Linkedid: 1795468960.1\r\nQueue: operator\r\nPosition: 1\r\nCount: 1\r\n\r\n"
)

MEMBER_RINGING = (
    b"Event: QueueMemberStatus\r\nPrivilege: agent,all\r\nTimestamp: 1795468961.330929\r\n"
    b"Queue: operator\r\nMemberName: agent1\r\nInterface: PJSIP/agent1\r\n"
    b"StateInterface: PJSIP/agent1\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
    b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 6\r\n"
    b"Paused: 0\r\nPausedReason: \r\nRinginuse: 0\r\nWrapuptime: 0\r\n\r\n"
)

# agent1 answers: QueueCallerLeave, AgentConnect, then InCall 1 / Status 2.
CALLER2_LEAVE_ANSWERED = (
    b"Event: QueueCallerLeave\r\nPrivilege: agent,all\r\nTimestamp: 1795468961.537931\r\n"
    b"Channel: PJSIP/callers-00000001\r\nChannelState: 6\r\nChannelStateDesc: Up\r\n"
    b"CallerIDNum: 1000\r\nCallerIDName: 1000\r\nConnectedLineNum: 12320\r\n"
    b"ConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\n"
    b"Context: ivr-queues\r\nExten: operator\r\nPriority: 2\r\nUniqueid: 1795468960.1\r\n"
    b"Linkedid: 1795468960.1\r\nQueue: operator\r\nPosition: 1\r\nCount: 0\r\n\r\n"
)

AGENT_CONNECT = (
    b"Event: AgentConnect\r\nPrivilege: agent,all\r\nTimestamp: 1795468961.537971\r\n"
    b"Channel: PJSIP/callers-00000001\r\nChannelState: 6\r\nChannelStateDesc: Up\r\n"
    b"CallerIDNum: 1000\r\nCallerIDName: 1000\r\nConnectedLineNum: 12320\r\n"
    b"ConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\n"
    b"Context: ivr-queues\r\nExten: operator\r\nPriority: 2\r\nUniqueid: 1795468960.1\r\n"
    b"Linkedid: 1795468960.1\r\nDestChannel: PJSIP/agent1-00000002\r\n"
    b"DestChannelState: 6\r\nDestChannelStateDesc: Up\r\nDestCallerIDNum: 12320\r\n"
    b"DestCallerIDName: <unknown>\r\nDestConnectedLineNum: 1000\r\n"
    b"DestConnectedLineName: 1000\r\nDestLanguage: en\r\nDestAccountCode: \r\n"
    b"DestContext: ivr-agents\r\nDestExten: operator\r\nDestPriority: 1\r\n"
    b"DestUniqueid: 1795468961.2\r\nDestLinkedid: 1795468960.1\r\nQueue: operator\r\n"
    b"Interface: PJSIP/agent1\r\nMemberName: agent1\r\nHoldTime: 0\r\nRingTime: 0\r\n\r\n"
)

MEMBER_IN_CALL = (
    b"Event: QueueMemberStatus\r\nPrivilege: agent,all\r\nTimestamp: 1795468961.538007\r\n"
    b"Queue: operator\r\nMemberName: agent1\r\nInterface: PJSIP/agent1\r\n"
    b"StateInterface: PJSIP/agent1\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
    b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 1\r\nStatus: 2\r\n"
    b"Paused: 0\r\nPausedReason: \r\nRinginuse: 0\r\nWrapuptime: 0\r\n\r\n"
)

# QueueStatus during the call.
STATUS_IN_CALL = [
    (
        b"Response: Success\r\nActionID: {id}\r\nEventList: start\r\n"
        b"Message: Queue status will follow\r\n\r\n"
    ),
    (
        b"Event: QueueParams\r\nQueue: operator\r\nMax: 0\r\nStrategy: leastrecent\r\n"
        b"Calls: 0\r\nHoldtime: 0\r\nTalkTime: 0\r\nCompleted: 0\r\nAbandoned: 1\r\n"
        b"ServiceLevel: 20\r\nServicelevelPerf: 0.0\r\nServicelevelPerf2: 100.0\r\nWeight: 0\r\n"
        b"ActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent1\r\nLocation: PJSIP/agent1\r\n"
        b"StateInterface: PJSIP/agent1\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 1\r\nStatus: 2\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent2\r\nLocation: PJSIP/agent2\r\n"
        b"StateInterface: PJSIP/agent2\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent3\r\nLocation: PJSIP/agent3\r\n"
        b"StateInterface: PJSIP/agent3\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent4\r\nLocation: PJSIP/agent4\r\n"
        b"StateInterface: PJSIP/agent4\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueStatusComplete\r\nActionID: {id}\r\nEventList: Complete\r\n"
        b"ListItems: 5\r\n\r\n"
    ),
]

# The caller hangs up: AgentComplete, then the member is free with CallsTaken 1.
AGENT_COMPLETE = (
    b"Event: AgentComplete\r\nPrivilege: agent,all\r\nTimestamp: 1795468965.835319\r\n"
    b"Channel: PJSIP/callers-00000001\r\nChannelState: 6\r\nChannelStateDesc: Up\r\n"
    b"CallerIDNum: 1000\r\nCallerIDName: 1000\r\nConnectedLineNum: 12320\r\n"
    b"ConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\n"
    b"Context: ivr-queues\r\nExten: operator\r\nPriority: 2\r\nUniqueid: 1795468960.1\r\n"
    b"Linkedid: 1795468960.1\r\nDestChannel: PJSIP/agent1-00000002\r\n"
    b"DestChannelState: 6\r\nDestChannelStateDesc: Up\r\nDestCallerIDNum: 12320\r\n"
    b"DestCallerIDName: <unknown>\r\nDestConnectedLineNum: 1000\r\n"
    b"DestConnectedLineName: 1000\r\nDestLanguage: en\r\nDestAccountCode: \r\n"
    b"DestContext: ivr-agents\r\nDestExten: operator\r\nDestPriority: 1\r\n"
    b"DestUniqueid: 1795468961.2\r\nDestLinkedid: 1795468960.1\r\nQueue: operator\r\n"
    b"Interface: PJSIP/agent1\r\nMemberName: agent1\r\nHoldTime: 0\r\nTalkTime: 4\r\n"
    b"Reason: caller\r\n\r\n"
)

MEMBER_FREE = (
    b"Event: QueueMemberStatus\r\nPrivilege: agent,all\r\nTimestamp: 1795468965.837779\r\n"
    b"Queue: operator\r\nMemberName: agent1\r\nInterface: PJSIP/agent1\r\n"
    b"StateInterface: PJSIP/agent1\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 1\r\n"
    b"LastCall: 1795468965\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\n"
    b"Status: 1\r\nPaused: 0\r\nPausedReason: \r\nRinginuse: 0\r\nWrapuptime: 0\r\n\r\n"
)

# QueueStatus after the call: Completed 1, ServicelevelPerf 100.0.
STATUS_COMPLETED = [
    (
        b"Response: Success\r\nActionID: {id}\r\nEventList: start\r\n"
        b"Message: Queue status will follow\r\n\r\n"
    ),
    (
        b"Event: QueueParams\r\nQueue: operator\r\nMax: 0\r\nStrategy: leastrecent\r\n"
        b"Calls: 0\r\nHoldtime: 0\r\nTalkTime: 4\r\nCompleted: 1\r\nAbandoned: 1\r\n"
        b"ServiceLevel: 20\r\nServicelevelPerf: 100.0\r\nServicelevelPerf2: 100.0\r\n"
        b"Weight: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent1\r\nLocation: PJSIP/agent1\r\n"
        b"StateInterface: PJSIP/agent1\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 1\r\n"
        b"LastCall: 1795468965\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\n"
        b"Status: 1\r\nPaused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent2\r\nLocation: PJSIP/agent2\r\n"
        b"StateInterface: PJSIP/agent2\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent3\r\nLocation: PJSIP/agent3\r\n"
        b"StateInterface: PJSIP/agent3\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent4\r\nLocation: PJSIP/agent4\r\n"
        b"StateInterface: PJSIP/agent4\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueStatusComplete\r\nActionID: {id}\r\nEventList: Complete\r\n"
        b"ListItems: 5\r\n\r\n"
    ),
]

# QueuePause Queue=operator Interface=PJSIP/agent1 Paused=true Reason=lunch, and back.
PAUSE_OK = b"Response: Success\r\nActionID: {id}\r\nMessage: Interface paused successfully\r\n\r\n"

MEMBER_PAUSED = (
    b"Event: QueueMemberPause\r\nPrivilege: agent,all\r\nTimestamp: 1795468967.343628\r\n"
    b"Queue: operator\r\nMemberName: agent1\r\nInterface: PJSIP/agent1\r\n"
    b"StateInterface: PJSIP/agent1\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 1\r\n"
    b"LastCall: 1795468965\r\nLastPause: 1795468967\r\nLoginTime: 1795468950\r\n"
    b"InCall: 0\r\nStatus: 1\r\nPaused: 1\r\nPausedReason: lunch\r\nRinginuse: 0\r\n"
    b"Wrapuptime: 0\r\n\r\n"
)

UNPAUSE_OK = (
    b"Response: Success\r\nActionID: {id}\r\nMessage: Interface unpaused successfully\r\n\r\n"
)

MEMBER_UNPAUSED = (
    b"Event: QueueMemberPause\r\nPrivilege: agent,all\r\nTimestamp: 1795468967.844389\r\n"
    b"Queue: operator\r\nMemberName: agent1\r\nInterface: PJSIP/agent1\r\n"
    b"StateInterface: PJSIP/agent1\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 1\r\n"
    b"LastCall: 1795468965\r\nLastPause: 1795468967\r\nLoginTime: 1795468950\r\n"
    b"InCall: 0\r\nStatus: 1\r\nPaused: 0\r\nPausedReason: \r\nRinginuse: 0\r\n"
    b"Wrapuptime: 0\r\n\r\n"
)

# QueuePause of an interface that is no member anywhere.
PAUSE_NOT_FOUND = b"Response: Error\r\nActionID: {id}\r\nMessage: Interface not found\r\n\r\n"

# QueueAdd complaints PJSIP/agent3 Penalty 2, QueuePenalty 3, QueueRemove.
ADD_OK = b"Response: Success\r\nActionID: {id}\r\nMessage: Added interface to queue\r\n\r\n"

MEMBER_ADDED = (
    b"Event: QueueMemberAdded\r\nPrivilege: agent,all\r\nTimestamp: 1795468968.347107\r\n"
    b"Queue: complaints\r\nMemberName: agent3\r\nInterface: PJSIP/agent3\r\n"
    b"StateInterface: PJSIP/agent3\r\nMembership: dynamic\r\nPenalty: 2\r\nCallsTaken: 0\r\n"
    b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468968\r\nInCall: 0\r\nStatus: 5\r\n"
    b"Paused: 0\r\nPausedReason: \r\nRinginuse: 0\r\nWrapuptime: 0\r\n\r\n"
)

PENALTY_OK = (
    b"Response: Success\r\nActionID: {id}\r\nMessage: Interface penalty set successfully\r\n\r\n"
)

MEMBER_PENALTY = (
    b"Event: QueueMemberPenalty\r\nPrivilege: agent,all\r\nTimestamp: 1795468968.847008\r\n"
    b"Queue: complaints\r\nMemberName: agent3\r\nInterface: PJSIP/agent3\r\n"
    b"StateInterface: PJSIP/agent3\r\nMembership: dynamic\r\nPenalty: 3\r\nCallsTaken: 0\r\n"
    b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468968\r\nInCall: 0\r\nStatus: 5\r\n"
    b"Paused: 0\r\nPausedReason: \r\nRinginuse: 0\r\nWrapuptime: 0\r\n\r\n"
)

REMOVE_OK = b"Response: Success\r\nActionID: {id}\r\nMessage: Removed interface from queue\r\n\r\n"

MEMBER_REMOVED = (
    b"Event: QueueMemberRemoved\r\nPrivilege: agent,all\r\nTimestamp: 1795468969.348735\r\n"
    b"Queue: complaints\r\nMemberName: agent3\r\nInterface: PJSIP/agent3\r\n"
    b"StateInterface: PJSIP/agent3\r\nMembership: dynamic\r\nPenalty: 3\r\nCallsTaken: 0\r\n"
    b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468968\r\nInCall: 0\r\nStatus: 5\r\n"
    b"Paused: 0\r\nPausedReason: \r\nRinginuse: 0\r\nWrapuptime: 0\r\n\r\n"
)

# QueueRemove of a queues.conf member.
REMOVE_NOT_DYNAMIC = b"Response: Error\r\nActionID: {id}\r\nMessage: Member not dynamic\r\n\r\n"

# QueueStatus without a Queue filter: every queue of asterisk_conf/queues.conf.
STATUS_ALL = [
    (
        b"Response: Success\r\nActionID: {id}\r\nEventList: start\r\n"
        b"Message: Queue status will follow\r\n\r\n"
    ),
    (
        b"Event: QueueParams\r\nQueue: mental-health-crisis\r\nMax: 0\r\n"
        b"Strategy: leastrecent\r\nCalls: 0\r\nHoldtime: 0\r\nTalkTime: 0\r\nCompleted: 0\r\n"
        b"Abandoned: 0\r\nServiceLevel: 20\r\nServicelevelPerf: 0.0\r\n"
        b"ServicelevelPerf2: 0.0\r\nWeight: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: mental-health-crisis\r\nName: agent3\r\n"
        b"Location: PJSIP/agent3\r\nStateInterface: PJSIP/agent3\r\nMembership: static\r\n"
        b"Penalty: 0\r\nCallsTaken: 0\r\nLastCall: 0\r\nLastPause: 0\r\n"
        b"LoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\nPaused: 0\r\nPausedReason: \r\n"
        b"Wrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: mental-health-crisis\r\nName: agent4\r\n"
        b"Location: PJSIP/agent4\r\nStateInterface: PJSIP/agent4\r\nMembership: static\r\n"
        b"Penalty: 0\r\nCallsTaken: 0\r\nLastCall: 0\r\nLastPause: 0\r\n"
        b"LoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\nPaused: 0\r\nPausedReason: \r\n"
        b"Wrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueParams\r\nQueue: operator\r\nMax: 0\r\nStrategy: leastrecent\r\n"
        b"Calls: 0\r\nHoldtime: 0\r\nTalkTime: 4\r\nCompleted: 1\r\nAbandoned: 1\r\n"
        b"ServiceLevel: 20\r\nServicelevelPerf: 100.0\r\nServicelevelPerf2: 100.0\r\n"
        b"Weight: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent1\r\nLocation: PJSIP/agent1\r\n"
        b"StateInterface: PJSIP/agent1\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 1\r\n"
        b"LastCall: 1795468965\r\nLastPause: 1795468967\r\nLoginTime: 1795468950\r\n"
        b"InCall: 0\r\nStatus: 1\r\nPaused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\n"
        b"ActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent2\r\nLocation: PJSIP/agent2\r\n"
        b"StateInterface: PJSIP/agent2\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent3\r\nLocation: PJSIP/agent3\r\n"
        b"StateInterface: PJSIP/agent3\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: operator\r\nName: agent4\r\nLocation: PJSIP/agent4\r\n"
        b"StateInterface: PJSIP/agent4\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueParams\r\nQueue: complaints\r\nMax: 0\r\nStrategy: leastrecent\r\n"
        b"Calls: 0\r\nHoldtime: 0\r\nTalkTime: 0\r\nCompleted: 0\r\nAbandoned: 0\r\n"
        b"ServiceLevel: 20\r\nServicelevelPerf: 0.0\r\nServicelevelPerf2: 0.0\r\nWeight: 0\r\n"
        b"ActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: complaints\r\nName: agent2\r\nLocation: PJSIP/agent2\r\n"
        b"StateInterface: PJSIP/agent2\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: complaints\r\nName: agent4\r\nLocation: PJSIP/agent4\r\n"
        b"StateInterface: PJSIP/agent4\r\nMembership: static\r\nPenalty: 1\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueParams\r\nQueue: outbreak\r\nMax: 0\r\nStrategy: leastrecent\r\n"
        b"Calls: 0\r\nHoldtime: 0\r\nTalkTime: 0\r\nCompleted: 0\r\nAbandoned: 0\r\n"
        b"ServiceLevel: 20\r\nServicelevelPerf: 0.0\r\nServicelevelPerf2: 0.0\r\nWeight: 0\r\n"
        b"ActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: outbreak\r\nName: agent3\r\nLocation: PJSIP/agent3\r\n"
        b"StateInterface: PJSIP/agent3\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: outbreak\r\nName: agent1\r\nLocation: PJSIP/agent1\r\n"
        b"StateInterface: PJSIP/agent1\r\nMembership: static\r\nPenalty: 1\r\nCallsTaken: 1\r\n"
        b"LastCall: 1795468965\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\n"
        b"Status: 1\r\nPaused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueParams\r\nQueue: vaccination\r\nMax: 0\r\nStrategy: leastrecent\r\n"
        b"Calls: 0\r\nHoldtime: 0\r\nTalkTime: 0\r\nCompleted: 0\r\nAbandoned: 0\r\n"
        b"ServiceLevel: 20\r\nServicelevelPerf: 0.0\r\nServicelevelPerf2: 0.0\r\nWeight: 0\r\n"
        b"ActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: vaccination\r\nName: agent1\r\nLocation: PJSIP/agent1\r\n"
        b"StateInterface: PJSIP/agent1\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 1\r\n"
        b"LastCall: 1795468965\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\n"
        b"Status: 1\r\nPaused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueMember\r\nQueue: vaccination\r\nName: agent2\r\nLocation: PJSIP/agent2\r\n"
        b"StateInterface: PJSIP/agent2\r\nMembership: static\r\nPenalty: 1\r\nCallsTaken: 0\r\n"
        b"LastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795468950\r\nInCall: 0\r\nStatus: 5\r\n"
        b"Paused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: {id}\r\n\r\n"
    ),
    (
        b"Event: QueueStatusComplete\r\nActionID: {id}\r\nEventList: Complete\r\n"
        b"ListItems: 17\r\n\r\n"
    ),
]

# Events of the same stream that are not about queues.
NOISE = [
    (
        b"Event: Newchannel\r\nPrivilege: call,all\r\nTimestamp: 1795468951.914320\r\n"
        b"Channel: PJSIP/callers-00000000\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\n"
        b"CallerIDNum: 1000\r\nCallerIDName: 1000\r\nConnectedLineNum: <unknown>\r\n"
        b"ConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\n"
        b"Context: ivr-inbound\r\nExten: 12320\r\nPriority: 1\r\nUniqueid: 1795468951.0\r\n"
        b"Linkedid: 1795468951.0\r\n\r\n"
    ),
    (
        b"Event: DeviceStateChange\r\nPrivilege: call,all\r\nTimestamp: 1795468951.916205\r\n"
        b"Device: PJSIP/callers\r\nState: INUSE\r\n\r\n"
    ),
]
