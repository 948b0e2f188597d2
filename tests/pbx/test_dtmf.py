"""The RFC 4733 key-press captures SIPp replays (no PBX needed)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ivr_engine.pbx import dtmf
from ivr_engine.pbx.sipp import CallSpec, parse_keys, render_caller


def read_rtp(path: Path) -> list[tuple[float, bytes]]:
    data = path.read_bytes()
    magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", data[:24])
    assert (magic, linktype) == (0xA1B2C3D4, 1)
    packets, offset = [], 24
    while offset < len(data):
        seconds, micros, length, _ = struct.unpack("<IIII", data[offset : offset + 16])
        frame = data[offset + 16 : offset + 16 + length]
        assert frame[12:14] == b"\x08\x00" and frame[23] == 17  # IPv4, UDP
        packets.append((seconds + micros / 1e6, frame[42:]))
        offset += 16 + length
    return packets


@pytest.mark.parametrize(
    ("key", "event"), [("0", 0), ("9", 9), ("*", 10), ("#", 11), ("d", 15)]
)
def test_capture_carries_the_key_event_and_ends_it(
    tmp_path: Path, key: str, event: int
) -> None:
    packets = read_rtp(dtmf.write_key_pcap(tmp_path / "k.pcap", key, 0))
    headers = [struct.unpack("!BBHII", rtp[:12]) for _, rtp in packets]
    payloads = [struct.unpack("!BBH", rtp[12:16]) for _, rtp in packets]
    assert {payload[0] for payload in payloads} == {event}
    assert headers[0][1] == 0x80 | 101 and all(
        h[1] == 101 for h in headers[1:]
    )  # marker on the first
    assert [h[2] for h in headers] == list(range(len(headers)))
    assert len({h[3] for h in headers}) == 1  # one event, one timestamp
    ended = [payload for payload in payloads if payload[1] & 0x80]
    assert len(ended) >= 3 and payloads[-1][1] & 0x80
    durations = [payload[2] for payload in payloads]
    assert durations == sorted(durations)
    times = [at for at, _ in packets]
    assert times == sorted(times) and times[-1] <= dtmf.TONE_SECONDS


def test_each_press_of_a_call_is_a_new_event(tmp_path: Path) -> None:
    first = read_rtp(dtmf.write_key_pcap(tmp_path / "a.pcap", "5", 0))
    second = read_rtp(dtmf.write_key_pcap(tmp_path / "b.pcap", "5", 1))
    seq_a, ts_a = struct.unpack("!HI", first[-1][1][2:8])
    seq_b, ts_b = struct.unpack("!HI", second[0][1][2:8])
    assert seq_b > seq_a and ts_b != ts_a


def test_bad_keys_are_refused_with_the_key_named() -> None:
    with pytest.raises(ValueError, match="'x'"):
        parse_keys("1 x")
    with pytest.raises(ValueError, match="negative"):
        parse_keys([(-1.0, "1")])
    assert parse_keys("2 1#", default_delay=0.25) == [
        (0.25, "2"),
        (0.25, "1"),
        (0.25, "#"),
    ]


def test_caller_scenario_escapes_the_caller_id_and_plays_one_capture_per_key(
    tmp_path: Path,
) -> None:
    scenario = render_caller(
        CallSpec(keys="1*", from_user="555", from_name='Eve <"x">'), tmp_path
    )
    text = scenario.read_text()
    assert 'Eve &lt;"x"&gt;' in text and "@@" not in text
    assert text.count("play_pcap_audio") == 2
    assert sorted(p.name for p in tmp_path.glob("*.pcap")) == ["key0.pcap", "key1.pcap"]


def test_caller_without_hold_time_stays_until_the_pbx_hangs_up(tmp_path: Path) -> None:
    text = render_caller(CallSpec(keys="", hold_seconds=None), tmp_path).read_text()
    [wait] = [line for line in text.splitlines() if 'ontimeout="local_hangup"' in line]
    # SIPp's wait for the PBX's BYE is a day long; only the call's own timeout ends it sooner.
    assert 'request="BYE"' in wait and f'timeout="{24 * 3600 * 1000}"' in wait
