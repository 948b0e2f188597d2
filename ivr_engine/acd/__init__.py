"""ACD side of the engine: app_queue's queues and agents watched and steered over AMI."""

from __future__ import annotations

from ivr_engine.acd.agent_control import AgentControl, InvalidName
from ivr_engine.acd.queue_monitor import QueueMonitor
from ivr_engine.acd.queue_state import AgentState, DeviceState, QueueBoard, QueueView

__all__ = [
    "AgentControl",
    "AgentState",
    "DeviceState",
    "InvalidName",
    "QueueBoard",
    "QueueMonitor",
    "QueueView",
]
