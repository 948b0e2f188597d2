"""Lookup nodes: ask a Python hook or an HTTP endpoint for one string, within the node's timeout.

A hook is `module:function`, plain or `async`, called with a dict of parameters. Plain hooks run in a
worker thread so a slow one cannot stall the other calls the event loop is serving; the timeout
bounds the call's wait (a thread cannot be cancelled, so a runaway plain hook finishes on its own).
An HTTP endpoint gets the parameters as the query (GET) or a JSON body (POST) and answers
`{"result": ...}` as JSON, or plain text.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import httpx

Hook = Callable[[dict[str, str]], Any]
HookResolver = Callable[[str], Hook]


class LookupFailed(Exception):
    """The lookup could not produce a result; the message says why (for the log)."""


@lru_cache(maxsize=256)
def import_hook(spec: str) -> Hook:
    """The callable named by `module:function` (dots allowed after the colon for attributes)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise LookupFailed(f"hook {spec!r} is not written as module:function")
    try:
        target: Any = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # the hook's code runs here: a script's sys.exit() must not end us
        raise LookupFailed(f"hook module {module_name!r} cannot be imported: {type(exc).__name__}: {exc}") from None
    try:
        for part in attribute.split("."):
            target = getattr(target, part)
    except AttributeError:
        raise LookupFailed(f"hook {spec!r}: module {module_name!r} has no {attribute!r}") from None
    if not callable(target):
        raise LookupFailed(f"hook {spec!r} is not callable")
    hook: Hook = target
    return hook


async def call_hook(hook: Hook, params: dict[str, str]) -> str:
    if inspect.iscoroutinefunction(hook):
        result = await hook(params)
    else:
        result = await asyncio.to_thread(hook, params)
        if inspect.isawaitable(result):
            result = await result
    if result is None:
        raise LookupFailed("the hook returned nothing")
    return str(result)


async def call_http(url: str, method: str, params: Mapping[str, str], timeout: float) -> str:
    async with httpx.AsyncClient(timeout=timeout) as client:
        if method == "POST":
            response = await client.post(url, json=dict(params))
        else:
            response = await client.get(url, params=dict(params))
    if response.status_code >= 400:
        raise LookupFailed(f"{method} {url} answered HTTP {response.status_code}")
    if "json" in response.headers.get("content-type", ""):
        try:
            body = response.json()
        except ValueError:
            raise LookupFailed(f"{method} {url} answered malformed JSON") from None
        if not isinstance(body, dict) or "result" not in body or body["result"] is None:
            raise LookupFailed(f'{method} {url} answered JSON without a "result"')
        return str(body["result"])
    return response.text.strip()


async def run_lookup(
    *,
    hook: str | None,
    url: str | None,
    method: str,
    params: dict[str, str],
    timeout: float,
    resolve: HookResolver,
) -> str:
    """The lookup's result; raises LookupFailed on any failure, including the timeout."""
    if hook is not None:
        work = call_hook(resolve(hook), params)
    elif url is not None:
        work = call_http(url, method, params, timeout)
    else:
        raise LookupFailed("the node has neither a hook nor a url")
    try:
        return await asyncio.wait_for(work, timeout)
    except TimeoutError:
        raise LookupFailed(f"no answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise LookupFailed(f"{method} {url}: {exc.__class__.__name__}: {exc}") from None
