"""The durable spool: batches the database could not take, kept on local disk until it can.

One batch per line, framed as `<length>:<crc32 hex>:<json>\n` and fsync'd before append() returns,
so a batch the recorder has spooled survives a crash of the process or the machine. A record torn
by a crash mid-write fails its length or checksum and is skipped (and logged), never half-applied.
The file is emptied only after every batch in it has been committed to the database.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import structlog

from ivr_engine.stats.batch import Batch

logger = structlog.get_logger(__name__)

SPOOL_FILE = "stats-spool.jsonl"


class Spool:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / SPOOL_FILE
        self._drop_torn_tail()

    @property
    def pending(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    def append(self, batch: Batch) -> None:
        payload = batch.to_json().encode()
        record = b"%d:%08x:" % (len(payload), zlib.crc32(payload)) + payload + b"\n"
        with open(self.path, "ab") as out:
            out.write(record)
            out.flush()
            os.fsync(out.fileno())

    def read(self) -> list[Batch]:
        """Every intact batch in order; damaged records are logged with their line and skipped."""
        if not self.path.exists():
            return []
        batches = []
        with open(self.path, "rb") as spool:
            for number, line in enumerate(spool, start=1):
                payload = _unframe(line)
                if payload is None:
                    logger.error("stats spool record damaged, skipped", spool=str(self.path), line=number)
                    continue
                batches.append(Batch.from_json(payload.decode()))
        return batches

    def clear(self) -> None:
        with open(self.path, "r+b") as spool:
            spool.truncate(0)
            os.fsync(spool.fileno())

    def _drop_torn_tail(self) -> None:
        """A crash mid-append leaves a last line without its newline; the next append would glue a
        good record onto it and lose both, so cut the torn tail off before appending again."""
        if not self.pending:
            return
        with open(self.path, "r+b") as spool:
            data = spool.read()
            if data.endswith(b"\n"):
                return
            keep = data.rfind(b"\n") + 1
            logger.error("stats spool ends in a torn record, dropped", spool=str(self.path), bytes=len(data) - keep)
            spool.truncate(keep)
            os.fsync(spool.fileno())


def _unframe(line: bytes) -> bytes | None:
    if not line.endswith(b"\n"):
        return None
    try:
        length_text, crc_text, payload = line[:-1].split(b":", 2)
        length, crc = int(length_text), int(crc_text, 16)
    except ValueError:
        return None
    if len(payload) != length or zlib.crc32(payload) != crc:
        return None
    return payload
