"""Waiting in tests for what another task, thread or process does: a condition polled until it
holds, failing with what was awaited once the bound passes. The bound is generous and never a
speed assertion: the machines that run these tests are shared, and slow at times.

Every test folder imports this as `waiting` (pytest puts tests/, the folder of the top conftest, on
sys.path).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

BOUND = 10.0  # seconds


async def until(
    condition: Callable[[], object], what: str = "the condition", *, within: float = BOUND, every: float = 0.01
) -> None:
    """On the event loop: for tasks, or threads that hand their work to it."""
    try:
        async with asyncio.timeout(within):
            while not condition():
                await asyncio.sleep(every)
    except TimeoutError:
        raise AssertionError(f"not seen within {within:.0f} s: {what}") from None


def until_blocking(
    condition: Callable[[], object], what: str = "the condition", *, within: float = BOUND, every: float = 0.02
) -> None:
    """Off the event loop: for threads and other processes."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {within:.0f} s: {what}")
        time.sleep(every)
