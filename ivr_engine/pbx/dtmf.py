"""RFC 4733 (2833) key presses as pcap files that SIPp replays into a call.

SIPp ships captures for 0-9 only, and they all carry the same RTP timestamp per key: replaying the
same key twice in one call looks like a retransmission of one event to Asterisk, which drops it.
So every key press of a call gets its own capture here, with its own sequence numbers and timestamp
(index-th press of the call), and `*`, `#`, `A`-`D` work like digits.
"""

from __future__ import annotations

import struct
from pathlib import Path

KEYS = "0123456789*#ABCD"
PAYLOAD_TYPE = 101  # matches a=rtpmap:101 telephone-event/8000 in the caller's SDP
PACKET_MS = 20
TONE_PACKETS = (
    8  # 160 ms of tone, then the end packet sent three times as RFC 4733 asks
)
END_REPEATS = 3
TONE_SECONDS = (TONE_PACKETS + 1) * PACKET_MS / 1000
_SAMPLES_PER_PACKET = 8000 * PACKET_MS // 1000
_SSRC = 0x49565245  # one SSRC for the whole call, like a real phone


class DtmfError(ValueError):
    """A key that has no RFC 4733 event."""


def event_code(key: str) -> int:
    index = KEYS.find(key.upper()) if len(key) == 1 else -1
    if index < 0:
        raise DtmfError(f"{key!r} is not a phone key (expected one of {KEYS})")
    return index


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _frame(rtp: bytes) -> bytes:
    """Ethernet + IPv4 + UDP around an RTP packet; SIPp replaces addresses and ports when sending."""
    udp = (
        struct.pack("!HHHH", 40000, 40000, 8 + len(rtp), 0) + rtp
    )  # UDP checksum 0 = none
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(udp),
        0,
        0,
        64,
        17,
        0,
        bytes([10, 0, 0, 1]),
        bytes([10, 0, 0, 2]),
    )
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    ethernet = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return ethernet + ip + udp


def key_press_packets(key: str, index: int) -> list[tuple[float, bytes]]:
    """(seconds from start, RTP packet) of the index-th key press of a call."""
    event = event_code(key)
    first_seq = (index * (TONE_PACKETS + END_REPEATS)) & 0xFFFF
    timestamp = (
        index * 8000 * 4
    ) & 0xFFFFFFFF  # 4 s of timestamp space per press: never equal
    packets: list[tuple[float, bytes]] = []
    for n in range(TONE_PACKETS + END_REPEATS):
        end = n >= TONE_PACKETS - 1
        duration = min(n, TONE_PACKETS - 1) * _SAMPLES_PER_PACKET + _SAMPLES_PER_PACKET
        marker = 0x80 if n == 0 else 0
        header = struct.pack(
            "!BBHII",
            0x80,
            marker | PAYLOAD_TYPE,
            (first_seq + n) & 0xFFFF,
            timestamp,
            _SSRC,
        )
        payload = struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)
        at = min(n, TONE_PACKETS - 1) * PACKET_MS / 1000
        packets.append((at, header + payload))
    return packets


def write_key_pcap(path: Path, key: str, index: int) -> Path:
    records = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for at, rtp in key_press_packets(key, index):
        frame = _frame(rtp)
        seconds, micros = int(at), round((at % 1) * 1_000_000)
        records.append(
            struct.pack("<IIII", seconds, micros, len(frame), len(frame)) + frame
        )
    path.write_bytes(b"".join(records))
    return path
