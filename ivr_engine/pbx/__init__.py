"""Local PBX harness: a real Asterisk 22 in a cached chroot, real SIP callers and agents (SIPp).

Used by the tests (see ivr_engine.pbx.pytest_fixtures), by `ivr pbx` and by the README demo.
"""

from __future__ import annotations

from ivr_engine.pbx.asterisk import (
    AGENTS,
    AMI_USER,
    FALLBACK_QUEUE,
    Pbx,
    PbxError,
    PbxPorts,
    Site,
    site_files,
)
from ivr_engine.pbx.root import RootError, build_root, default_root
from ivr_engine.pbx.sipp import (
    Agent,
    CallOptions,
    CallResult,
    CallSpec,
    SippError,
    place_call,
    place_calls,
)

__all__ = [
    "AGENTS",
    "AMI_USER",
    "FALLBACK_QUEUE",
    "Agent",
    "CallOptions",
    "CallResult",
    "CallSpec",
    "Pbx",
    "PbxError",
    "PbxPorts",
    "RootError",
    "SippError",
    "Site",
    "build_root",
    "default_root",
    "place_call",
    "place_calls",
    "site_files",
]
