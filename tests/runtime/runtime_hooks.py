"""Lookup hooks the tests name as `runtime_hooks:<function>`, as ops staff name theirs."""

from __future__ import annotations

import asyncio


def case_status(params: dict[str, str]) -> str:
    return "open" if params["case"].startswith("1") else "closed"


async def case_status_async(params: dict[str, str]) -> str:
    await asyncio.sleep(0)
    return case_status(params)


async def never_answers(params: dict[str, str]) -> str:
    await asyncio.sleep(3600)
    return "open"


def broken(params: dict[str, str]) -> str:
    raise ValueError("the case database is down")


NOT_CALLABLE = "open"
