"""The conformance tasks (proto/conformance/README.md) for the Python worker.

The same names and behaviour as examples/conformance/tasks.ts (TS) and
clients/go/examples/conformance-worker (Go), so one scenario list runs
against a worker in each language:

    python -m taskwire worker examples/conformance/tasks.py
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import taskwire


@taskwire.task(name="cf-echo")
def echo(x: Any) -> Any:
    return x


@taskwire.task(name="cf-add")
def add(a: float, b: float) -> float:
    return a + b


@taskwire.task(name="cf-unicode")
def unicode(s: str) -> str:
    return f"{s} ✓"


@taskwire.task(name="cf-fail")
def fail(msg: str) -> None:
    raise taskwire.NonRetryableError(msg, type="ConformanceError")


class FlakyError(Exception):
    pass


@taskwire.task(name="cf-flaky")
def flaky(n: int) -> int:
    attempt = taskwire.context().attempt
    if attempt <= n:
        raise FlakyError(f"attempt {attempt} fails on purpose")
    return attempt


@taskwire.task(name="cf-sleep")
async def sleep(ms: int) -> int:
    # A timeout or cancel cancels this coroutine at its await: it ends early.
    try:
        await asyncio.sleep(ms / 1000)
    except asyncio.CancelledError:
        pass
    return ms


@taskwire.task(name="cf-large")
def large(n: int) -> str:
    return "x" * n


@taskwire.task(name="cf-log")
def log_lines(n: int) -> int:
    ctx = taskwire.context()
    for i in range(n):
        ctx.log.info(f"line {i}")
        ctx.progress((i + 1) / n, f"{i + 1} of {n}")
    return n


@taskwire.task(name="cf-spin", isolation="process")
def spin(ms: int) -> int:
    # Busy, never looks at its context: only a hard stop ends it early.
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        pass
    return ms
