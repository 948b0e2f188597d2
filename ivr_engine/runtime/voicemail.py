"""Where a voice message is stored, and the JSON sidecar that says who left it and how they got there.

A message is named `<mailbox>/<caller>-<UTC time>-<call id>`, relative: the channel records it under
its own recordings directory (Asterisk's spool for a real call) and adds the audio extension; the
sidecar goes to `<voicemail_dir>/<the same name>.json` and says where the audio is. Every part of the
name is reduced to safe characters: a caller id or call id is outside data and must not steer a path.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from ivr_engine.runtime.channel import Recording

_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")
# Characters kept of each part: a caller id or call id can be any length (a SIP user part), and a
# file name over 255 bytes cannot be made, which would lose the message. The sidecar keeps it whole.
_PART_LENGTH = 64


def _part(value: str | None, fallback: str) -> str:
    cleaned = _UNSAFE.sub("_", value or "")[:_PART_LENGTH].strip(".")
    return cleaned or fallback


def message_name(mailbox: str, caller: str | None, at: dt.datetime, call_id: str) -> PurePosixPath:
    stamp = at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{_part(caller, 'anonymous')}-{stamp}-{_part(call_id, 'call')}"
    return PurePosixPath(_part(mailbox, "default"), name)


def write_sidecar(
    directory: Path,
    name: PurePosixPath,
    *,
    recording: Recording,
    caller: str | None,
    call_id: str,
    mailbox: str,
    at: dt.datetime,
    flow_id: str,
    flow_version: str,
    path: Sequence[str],
) -> Path:
    sidecar = directory / f"{name}.json"
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "call_id": call_id,
        "caller": caller,
        "mailbox": mailbox,
        "recorded_at": at.astimezone(dt.UTC).isoformat(),
        "recording": recording.path,
        "seconds": recording.seconds,
        "ended_by": recording.ended_by,
        "flow": {"id": flow_id, "version": flow_version},
        "path": list(path),
    }
    sidecar.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return sidecar
