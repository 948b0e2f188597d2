"""Round-trip of our argument quoting through a model of res_agi.c's parse_args()."""

from __future__ import annotations

from agi_fixtures import asterisk_parse_args
from hypothesis import given
from hypothesis import strategies as st

from ivr_engine.agi.protocol import encode_command


def test_reference_parser_matches_known_asterisk_splits() -> None:
    assert asterisk_parse_args('STREAM FILE welcome "12#"') == ["STREAM", "FILE", "welcome", "12#"]
    assert asterisk_parse_args('SET VARIABLE X ""') == ["SET", "VARIABLE", "X", ""]
    assert asterisk_parse_args(r'VERBOSE "a \"b\" c" 1') == ["VERBOSE", 'a "b" c', "1"]
    assert asterisk_parse_args(r"VERBOSE a\ b") == ["VERBOSE", "a b"]


text = st.text(st.characters(codec="utf-8"), max_size=40)


@given(st.lists(text, max_size=8))
def test_every_argument_arrives_as_exactly_one_word(args: list[str]) -> None:
    line = encode_command("SET VARIABLE", *args).decode()
    assert line.endswith("\n") and line.count("\n") == 1
    sent = [arg.replace("\r", "").replace("\n", "").replace("\x00", "") for arg in args]
    assert asterisk_parse_args(line[:-1]) == ["SET", "VARIABLE", *sent]


@given(st.text(alphabet=st.sampled_from(['"', "\\", " ", "\n", "\r", "\t", "a"]), max_size=30))
def test_hostile_alphabet_cannot_split_or_add_commands(value: str) -> None:
    line = encode_command("EXEC", "Playback", value).decode()
    assert line.count("\n") == 1
    assert asterisk_parse_args(line[:-1]) == [
        "EXEC",
        "Playback",
        value.replace("\r", "").replace("\n", ""),
    ]
