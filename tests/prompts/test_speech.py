"""The grammar of spoken numbers, queue positions, waits, dates and digits, against the real pieces
in prompts/dynamic.yaml."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr_engine.prompts.catalog import PromptCatalog
from ivr_engine.prompts.speech import (
    MAX_NUMBER,
    say_date,
    say_digits,
    say_number,
    say_queue_position,
    say_wait_minutes,
)

DYNAMIC = PromptCatalog.load(Path(__file__).parents[2] / "prompts" / "dynamic.yaml")
LANGUAGES = ("en", "zh-CN")


def spoken(ids: list[str], language: str) -> str:
    texts = [DYNAMIC.text(prompt_id, language) for prompt_id in ids]
    assert None not in texts, f"no {language} piece for {[i for i, t in zip(ids, texts, strict=True) if t is None]}"
    return ("" if language == "zh-CN" else " ").join(texts)  # type: ignore[arg-type]


def zh(n: int, counting: bool = False) -> str:
    return spoken(say_number(n, "zh-CN", counting=counting), "zh-CN")


def en(n: int) -> str:
    return spoken(say_number(n, "en"), "en")


ENGLISH_VALUES = {
    **{w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                  "fourteen fifteen sixteen seventeen eighteen nineteen".split())},
    **{w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)},
}  # fmt: skip


def parse_english(text: str) -> int:
    total = current = 0
    for word in text.split():
        if word == "hundred":
            current *= 100
        elif word in ("thousand", "million"):
            total += current * (1000 if word == "thousand" else 1_000_000)
            current = 0
        else:
            current += ENGLISH_VALUES[word]
    return total + current


def parse_mandarin(text: str) -> int:
    digits = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2}
    places = {"十": 10, "百": 100, "千": 1000}
    yi = wan = section = number = 0
    for ch in text:
        if ch in digits:
            number = digits[ch]
        elif ch in places:
            section += (number or (1 if ch == "十" else 0)) * places[ch]
            number = 0
        elif ch == "万":
            wan, section, number = (section + number) * 10_000, 0, 0
        elif ch == "亿":
            yi, wan, section, number = (wan + section + number) * 100_000_000, 0, 0, 0
        else:
            raise AssertionError(f"unexpected {ch!r} in {text!r}")
    return yi + wan + section + number


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "零"), (2, "二"), (10, "十"), (11, "十一"), (12, "十二"), (20, "二十"), (22, "二十二"),
        (100, "一百"), (101, "一百零一"), (110, "一百一十"), (111, "一百一十一"), (200, "两百"),
        (202, "两百零二"), (220, "两百二十"), (1000, "一千"), (1001, "一千零一"), (1010, "一千零一十"),
        (1100, "一千一百"), (2000, "两千"), (2200, "两千二百"), (2222, "两千二百二十二"),
        (10000, "一万"), (10001, "一万零一"), (10010, "一万零一十"), (10100, "一万零一百"),
        (11000, "一万一千"), (12000, "一万两千"), (20000, "两万"), (22000, "两万两千"),
        (100000, "十万"), (100001, "十万零一"), (101000, "十万一千"), (110000, "十一万"),
        (120000, "十二万"), (200000, "二十万"), (1000000, "一百万"), (2000000, "两百万"),
        (1000100, "一百万零一百"), (10000000, "一千万"), (10000010, "一千万零一十"), (20000000, "两千万"),
        (100000000, "一亿"), (200000000, "两亿"), (100000001, "一亿零一"), (100010000, "一亿零一万"),
        (100020000, "一亿零两万"), (120000000, "一亿两千万"), (102000000, "一亿零二百万"),
        (999999999, "九亿九千九百九十九万九千九百九十九"),
    ],
)  # fmt: skip
def test_mandarin_numbers(n: int, text: str) -> None:
    assert zh(n) == text


def test_mandarin_counts_two_things_with_liang() -> None:
    assert zh(2, counting=True) == "两"
    assert zh(12, counting=True) == "十二"
    assert zh(22, counting=True) == "二十二"
    assert zh(200, counting=True) == "两百"


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "zero"), (7, "seven"), (13, "thirteen"), (20, "twenty"), (42, "forty two"), (100, "one hundred"),
        (105, "one hundred five"), (999, "nine hundred ninety nine"), (1000, "one thousand"),
        (12320, "twelve thousand three hundred twenty"), (100000, "one hundred thousand"),
        (1000001, "one million one"), (999999999, "nine hundred ninety nine million nine hundred ninety nine "
                                                 "thousand nine hundred ninety nine"),
    ],
)  # fmt: skip
def test_english_numbers(n: int, text: str) -> None:
    assert en(n) == text


@given(st.integers(0, MAX_NUMBER), st.sampled_from(LANGUAGES), st.booleans())
def test_every_number_is_made_of_pieces_that_exist(n: int, language: str, counting: bool) -> None:
    spoken(say_number(n, language, counting=counting), language)


@given(st.integers(0, MAX_NUMBER))
def test_english_reads_back_to_the_number(n: int) -> None:
    assert parse_english(en(n)) == n


@given(st.integers(0, MAX_NUMBER))
def test_mandarin_reads_back_to_the_number(n: int) -> None:
    text = zh(n)
    assert parse_mandarin(text) == n
    assert "零零" not in text
    assert n == 0 or not text.endswith("零")
    assert not text.startswith("一十")


@pytest.mark.parametrize("bad", [-1, MAX_NUMBER + 1, 2.5, True])
def test_numbers_out_of_range_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="cannot say"):
        say_number(bad, "en")  # type: ignore[arg-type]


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="no number grammar for language 'fr'"):
        say_number(3, "fr")


def test_queue_position() -> None:
    assert spoken(say_queue_position(3, "en"), "en") == "You are number three in the queue."
    assert spoken(say_queue_position(2, "zh-CN"), "zh-CN") == "您现在排在第二位。"
    with pytest.raises(ValueError):
        say_queue_position(0, "en")


def test_wait_minutes() -> None:
    assert spoken(say_wait_minutes(1, "en"), "en") == "Your estimated wait time is one minute."
    assert spoken(say_wait_minutes(25, "en"), "en") == "Your estimated wait time is twenty five minutes."
    assert spoken(say_wait_minutes(2, "zh-CN"), "zh-CN") == "预计等待时间约为两分钟。"
    assert spoken(say_wait_minutes(0, "zh-CN"), "zh-CN") == "预计等待时间不到一分钟。"
    with pytest.raises(ValueError):
        say_wait_minutes(-1, "en")


@pytest.mark.parametrize(
    ("day", "english", "mandarin"),
    [
        (date(2026, 11, 23), "Monday November twenty third twenty twenty six", "二零二六年十一月二十三日星期一"),
        (date(2026, 2, 22), "Sunday February twenty second twenty twenty six", "二零二六年二月二十二日星期日"),
        (date(2009, 3, 1), "Sunday March first two thousand nine", "二零零九年三月一日星期日"),
        (date(1905, 12, 31), "Sunday December thirty first nineteen oh five", "一九零五年十二月三十一日星期日"),
        (date(1900, 1, 20), "Saturday January twentieth nineteen hundred", "一九零零年一月二十日星期六"),
        (date(2000, 10, 30), "Monday October thirtieth two thousand", "二零零零年十月三十日星期一"),
    ],
)
def test_dates(day: date, english: str, mandarin: str) -> None:
    assert spoken(say_date(day, "en", weekday=True), "en") == english
    assert spoken(say_date(day, "zh-CN", weekday=True), "zh-CN") == mandarin


def test_date_without_year_or_weekday() -> None:
    assert spoken(say_date(date(2026, 5, 4), "en", year=False), "en") == "May fourth"
    assert spoken(say_date(date(2026, 5, 4), "zh-CN", year=False), "zh-CN") == "五月四日"


@given(st.dates(date(1000, 1, 1), date(9999, 12, 31)), st.sampled_from(LANGUAGES), st.booleans())
def test_every_date_is_made_of_pieces_that_exist(day: date, language: str, weekday: bool) -> None:
    spoken(say_date(day, language, weekday=weekday), language)


def test_digits() -> None:
    assert spoken(say_digits("12320", "zh-CN"), "zh-CN") == "幺二三二零"
    assert spoken(say_digits("*0#", "en"), "en") == "star zero pound"
    assert spoken(say_digits("138-0013 8000", "en"), "en") == " ".join(
        "one three eight zero zero one three eight zero zero zero".split()
    )
    with pytest.raises(ValueError, match="only digits, \\* and # are spoken"):
        say_digits("12a", "en")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_piece_in_dynamic_yaml_is_used(language: str) -> None:
    used: set[str] = set()
    for n in [*range(200), 2000, 12_000, 20_000, 1_000_000, 100_000_000, 200_000_000]:
        used.update(say_number(n, language, counting=True), say_number(n, language))
    first = date(2026, 1, 1).toordinal()
    for day in [*(date.fromordinal(first + i) for i in range(365)), *(date(year, 1, 1) for year in range(1900, 2030))]:
        used.update(say_date(day, language, weekday=True))
    used.update(say_digits("0123456789*#", language), say_queue_position(1, language))
    used.update(say_wait_minutes(0, language), say_wait_minutes(1, language), say_wait_minutes(2, language))
    assert used == {prompt_id for prompt_id in DYNAMIC.ids() if language in DYNAMIC.languages(prompt_id)}
