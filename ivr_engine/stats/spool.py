"""The durable spool: batches the database could not take, kept on local disk until it can.

One batch per line, framed as `<length>:<crc32 hex>:<json>\n` and fsync'd before append() returns,
so a batch the recorder has spooled survives a crash of the process or the machine. A record torn
by a crash mid-write fails its length or checksum and is skipped (and logged), never half-applied.
A replay marks how far it has committed (`replayed_to`, a small fsync'd file beside the spool), so a
replay the database cut short resumes after the last committed batch instead of applying it again:
a bookmark row replayed twice would undo what the caller changed in between (on another node).
The file is emptied only after every batch in it has been committed to the database. It is read
a batch at a time, never whole: after a long outage it may hold more than memory would.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import structlog

from ivr_engine.stats.batch import Batch

logger = structlog.get_logger(__name__)

SPOOL_FILE = "stats-spool.jsonl"


class Spool:
    def __init__(self, directory: Path, name: str = SPOOL_FILE) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / name
        self._replayed_path = self.path.with_suffix(".replayed")  # bytes of it committed by a replay
        self._drop_torn_tail()
        self._replayed = self._read_replayed()

    @property
    def pending(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > self._replayed

    def append(self, batch: Batch) -> None:
        payload = batch.to_json().encode()
        record = b"%d:%08x:" % (len(payload), zlib.crc32(payload)) + payload + b"\n"
        with open(self.path, "ab") as out:
            out.write(record)
            out.flush()
            os.fsync(out.fileno())

    def read(self) -> Iterator[Batch]:
        """Every intact batch not replayed yet, in order; damaged records are logged with their
        offset and skipped."""
        return (batch for batch, _ in self.entries())

    def entries(self) -> Iterator[tuple[Batch, int]]:
        """(batch, offset of the spool after it) for every intact batch not replayed yet, read as
        they are taken."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as spool:
            spool.seek(self._replayed)
            offset = self._replayed
            for line in spool:
                offset += len(line)
                payload = _unframe(line)
                if payload is None:
                    logger.error("stats spool record damaged, skipped", spool=str(self.path), offset=offset - len(line))
                    continue
                yield Batch.from_json(payload.decode()), offset

    def replayed_to(self, offset: int) -> None:
        """The batches up to `offset` (from `entries`) are committed: never replay them again.
        The mark names the spool by its first record's checksum, so a mark outliving its spool
        (a crash inside `clear`) never hides the batches of the next one."""
        self._replayed = offset  # this run skips them even if the mark cannot be saved
        try:
            _write_durably(self._replayed_path, b"%d %s\n" % (offset, self._first_crc()))
        except OSError as exc:  # a full disk: a restart would apply these bookmarks again
            logger.error("stats spool replay mark not saved", spool=str(self.path), error=str(exc))

    def clear(self) -> None:
        with open(self.path, "r+b") as spool:
            spool.truncate(0)
            os.fsync(spool.fileno())
        self._replayed = 0
        self._replayed_path.unlink(missing_ok=True)  # stale now; and its checksum names no spool

    def _first_crc(self) -> bytes:
        with open(self.path, "rb") as spool:
            return spool.readline().split(b":", 2)[1]

    def _read_replayed(self) -> int:
        """The mark, if it is whole, names this spool and ends a record of it; else 0: replay
        all, as before a mark existed (calls are replay-safe)."""
        try:
            offset_text, crc = self._replayed_path.read_bytes().removesuffix(b"\n").split(b" ")
            offset = int(offset_text)
            if not (0 < offset <= self.path.stat().st_size) or crc != self._first_crc():
                return 0
            with open(self.path, "rb") as spool:
                spool.seek(offset - 1)
                return offset if spool.read(1) == b"\n" else 0
        except (OSError, ValueError, IndexError):
            return 0

    def _drop_torn_tail(self) -> None:
        """A crash mid-append leaves a last line without its newline; the next append would glue a
        good record onto it and lose both, so cut the torn tail off before appending again."""
        if not self.path.exists():
            return
        with open(self.path, "r+b") as spool:
            size = end = spool.seek(0, os.SEEK_END)
            keep = 0
            while end > 0:  # back from the end, a block at a time, to the last newline
                start = max(0, end - _TAIL_BLOCK)
                spool.seek(start)
                block = spool.read(end - start)
                if end == size and block.endswith(b"\n"):
                    return
                if (newline := block.rfind(b"\n")) >= 0:
                    keep = start + newline + 1
                    break
                end = start
            logger.error("stats spool ends in a torn record, dropped", spool=str(self.path), bytes=size - keep)
            spool.truncate(keep)
            os.fsync(spool.fileno())


_TAIL_BLOCK = 1 << 16


def _write_durably(path: Path, data: bytes) -> None:
    staged = path.with_suffix(".staged")
    with open(staged, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(staged, path)


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
