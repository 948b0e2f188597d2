"""Dynamic speech: numbers, queue positions, waits, dates and digit strings as lists of prompt ids.

Nothing is synthesized during a call. Each function returns the ids of pre-built pieces (texts in
prompts/dynamic.yaml, built by `ivr prompts build` like any other prompt) that, played one after
the other, say the value: `say_number(305, "en")` -> num.3 num.hundred num.5.

English follows American usage (the en voice is en-us): no "and" after hundred ("one hundred
five"), years in pairs ("twenty twenty-six", "nineteen oh five", "two thousand nine").

Mandarin (zh*) follows the standard reading of numbers:
  - 十 alone at the start of a number, 一十 elsewhere: 10 十, 12 十二, 110 一百一十, 十万, 一万零一十.
  - one 零 for each run of zeros inside a number and before a 万/亿 group that does not start at its
    thousands: 101 一百零一, 1001 一千零一, 10001 一万零一, 100010000 一亿零一万; none at the end.
  - 两 instead of 二, a choice: before 千 always (两千, 一万两千), before 百 only where it starts the
    number (两百, but 一千二百, the more common reading in speech), for a whole group of 2 before 万
    and 亿 (两万, 两亿), and for the number 2 itself when it counts something (两分钟: `counting=True`).
    Ordinals and names keep 二: 第二位, 二月, 二十二.
  - digit strings (phone numbers, codes) read 1 as 幺, the telephony convention that keeps it apart
    from 七; years are read digit by digit with 一 and 零: 二零二六年.
"""

from __future__ import annotations

from datetime import date

MAX_NUMBER = 999_999_999

ZERO = "num.0"
TEN = "num.10"
HUNDRED = "num.hundred"
THOUSAND = "num.thousand"
MILLION = "num.million"  # English only
WAN = "num.wan"  # 万, Mandarin only
YI = "num.yi"  # 亿, Mandarin only
LIANG = "num.liang"  # 两, Mandarin only
YAO = "num.yao"  # 幺, Mandarin only
OH = "num.oh"  # "oh" in English years
STAR = "digit.star"
HASH = "digit.hash"

_ZH_PLACES = ((1000, THOUSAND), (100, HUNDRED), (10, TEN), (1, None))
_ZH_GROUPS = ((100_000_000, YI), (10_000, WAN), (1, None))
_EN_SCALES = ((1_000_000, MILLION), (1000, THOUSAND), (100, HUNDRED))


def say_number(n: int, language: str, *, counting: bool = False) -> list[str]:
    """Cardinal `n` (0 to 999,999,999). `counting`: the number counts something that follows it
    (minutes, people), which in Mandarin turns a lone 2 into 两."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"cannot say {n!r}: numbers from 0 to {MAX_NUMBER:,} are spoken")
    if _is_mandarin(language):
        return [LIANG] if counting and n == 2 else _mandarin(n)
    return _english(n)


def say_digits(digits: str, language: str) -> list[str]:
    """One piece per key: "12320", "*5#"; spaces and hyphens between groups are skipped."""
    mandarin = _is_mandarin(language)
    keys = {"*": STAR, "#": HASH, **{str(d): f"num.{d}" for d in range(10)}}
    if mandarin:
        keys["1"] = YAO
    pieces = []
    for ch in digits:
        if ch in " -":
            continue
        if ch not in keys:
            raise ValueError(f"cannot say {ch!r} in {digits!r}: only digits, * and # are spoken")
        pieces.append(keys[ch])
    return pieces


def say_queue_position(position: int, language: str) -> list[str]:
    """ "You are number 3 in the queue." / "您现在排在第三位。" (an ordinal: 第二位, never 第两位)."""
    if position < 1:
        raise ValueError(f"queue position {position} is not 1 or more")
    return ["queue.position.before", *say_number(position, language), "queue.position.after"]


def say_wait_minutes(minutes: int, language: str) -> list[str]:
    """ "Your estimated wait time is 5 minutes."; under a minute has a sentence of its own."""
    if minutes < 0:
        raise ValueError(f"a wait of {minutes} minutes is negative")
    if minutes == 0:
        return ["wait.under_one_minute"]
    unit = "wait.minute" if minutes == 1 else "wait.minutes"
    return ["wait.before", *say_number(minutes, language, counting=True), unit]


def say_date(day: date, language: str, *, weekday: bool = False, year: bool = True) -> list[str]:
    """English "Monday, November twenty-third, twenty twenty-six"; Mandarin 二零二六年十一月二十三日星期一."""
    week = [f"weekday.{day.isoweekday()}"] if weekday else []
    if _is_mandarin(language):
        years = [*(f"num.{d}" for d in str(day.year)), "date.year"] if year else []
        month = [*_mandarin(day.month), "date.month"]
        return [*years, *month, *_mandarin(day.day), "date.day", *week]
    years = _english_year(day.year) if year else []
    return [*week, f"month.{day.month}", *_english_ordinal(day.day), *years]


def _is_mandarin(language: str) -> bool:
    primary = language.split("-")[0].lower()
    if primary in ("zh", "cmn"):
        return True
    if primary == "en":
        return False
    raise ValueError(f"no number grammar for language {language!r} (there are en and zh-CN)")


def _english(n: int) -> list[str]:
    if n < 20:
        return [f"num.{n}"]
    if n < 100:
        tens, ones = divmod(n, 10)
        return [f"num.{tens * 10}", *([f"num.{ones}"] if ones else [])]
    size, scale = next((size, scale) for size, scale in _EN_SCALES if n >= size)
    high, rest = divmod(n, size)
    return [*_english(high), scale, *(_english(rest) if rest else [])]


def _english_ordinal(n: int) -> list[str]:
    """Days of the month: first .. thirty-first."""
    if n < 20 or n % 10 == 0:
        return [f"ord.{n}"]
    return [f"num.{n // 10 * 10}", f"ord.{n % 10}"]


def _english_year(y: int) -> list[str]:
    century, rest = divmod(y, 100)
    if not 1000 <= y <= 9999 or (century % 10 == 0 and rest < 10):  # 2000, 2009: "two thousand nine"
        return _english(y)
    if rest == 0:
        return [*_english(century), HUNDRED]  # nineteen hundred
    if rest < 10:
        return [*_english(century), OH, f"num.{rest}"]  # nineteen oh five
    return [*_english(century), *_english(rest)]


def _mandarin(n: int) -> list[str]:
    if n == 0:
        return [ZERO]
    pieces: list[str] = []
    gap = False  # a whole group of zeros was skipped since the last piece
    for size, unit in _ZH_GROUPS:
        group = n // size % 10_000
        if group == 0:
            gap = gap or bool(pieces)
            continue
        if pieces and (gap or group < 1000):
            pieces.append(ZERO)
        words = _mandarin_group(group, leading=not pieces)
        if unit is not None:
            pieces += [LIANG] if group == 2 else words
            pieces.append(unit)
        else:
            pieces += words
        gap = False
    return pieces


def _mandarin_group(group: int, *, leading: bool) -> list[str]:
    """0 < group < 10000 as 千百十个; `leading`: nothing of the number was said before it."""
    pieces: list[str] = []
    zero = False  # a zero digit was passed after something was said
    for size, place in _ZH_PLACES:
        digit = group // size % 10
        if digit == 0:
            zero = zero or bool(pieces)
            continue
        if zero:
            pieces.append(ZERO)
            zero = False
        starts_number = leading and not pieces
        if place == TEN and digit == 1 and starts_number:
            pieces.append(TEN)
            continue
        liang = digit == 2 and (place == THOUSAND or (place == HUNDRED and starts_number))
        pieces.append(LIANG if liang else f"num.{digit}")
        if place is not None:
            pieces.append(place)
    return pieces
