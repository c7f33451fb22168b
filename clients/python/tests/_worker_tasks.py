"""Tasks of the Python worker tests (test_worker.py).

Names carry a suffix unique to the test process (kept in the environment,
so a child process of isolation="process" that imports this module again
finds the same names).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

import taskwire

SUFFIX = os.environ.setdefault("TASKWIRE_TEST_TASK_SUFFIX", uuid.uuid4().hex[:10])


def n(name: str) -> str:
    return f"pyw-{SUFFIX}-{name}"


@taskwire.task(name=n("add"))
def add(a: int, b: int) -> int:
    return a + b


@taskwire.task(name=n("aecho"))
async def aecho(x: Any) -> Any:
    await asyncio.sleep(0)
    return {"echo": x, "attempt": taskwire.context().attempt}


@taskwire.task(name=n("flaky"), retries=2, retry_delays=[0.05])
def flaky() -> int:
    attempt = taskwire.context().attempt
    if attempt < 3:
        raise ConnectionError(f"attempt {attempt} fails")
    return attempt


@taskwire.task(name=n("never"))
def never() -> None:
    raise taskwire.NonRetryableError("no way", type="Refused")


@taskwire.task(name=n("later"), retries=1)
def later() -> str:
    if taskwire.context().attempt == 1:
        raise taskwire.RetryAfterError(0.3, "busy upstream")
    return "later"


@taskwire.task(name=n("asleep"), timeout=0.3)
async def asleep(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@taskwire.task(name=n("polite"), timeout=0.3)
def polite(seconds: float) -> str:
    # A sync task that looks at its context: stops early when told.
    ctx = taskwire.context()
    ctx.wait_cancelled(seconds)
    ctx.raise_if_cancelled()
    return "finished"


@taskwire.task(name=n("spin"), timeout=0.5, isolation="process")
def spin(seconds: float) -> float:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return seconds


@taskwire.task(name=n("chatty"))
def chatty(lines: int) -> int:
    ctx = taskwire.context()
    for i in range(lines):
        ctx.log.info(f"line {i}")
        ctx.progress((i + 1) / lines, f"{i + 1}/{lines}")
    return lines


@taskwire.task(name=n("big"))
def big(size: int) -> str:
    return "y" * size


@taskwire.task(name=n("isolated"), isolation="process")
def isolated(a: int) -> dict[str, Any]:
    ctx = taskwire.context()
    ctx.log.info("from the child process")
    return {"a": a, "pid": os.getpid()}
