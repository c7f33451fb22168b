"""Task definitions for Python workers: ``@taskwire.task(name=...)``.

A task is a plain function (sync or ``async def``) with a name and the
options its author declares: retries, a timeout, how a timeout is enforced.
Any service submits it by name (from any language); a Python worker
(``python -m taskwire worker MODULE``) executes it::

    import taskwire

    @taskwire.task(name="add")
    def add(a: int, b: int) -> int:
        return a + b

    @taskwire.task(name="fetch-report", retries=3, timeout=30.0)
    async def fetch_report(customer: str) -> dict:
        taskwire.context().log.info(f"fetching {customer}")
        ...

Calling the decorated object calls the function directly (no broker).
"""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Literal, Sequence, TypeVar, overload

from .v1 import types_pb2, worker_pb2

__all__ = ["Task", "task", "NonRetryableError", "RetryAfterError", "Isolation"]

R = TypeVar("R")

_TASK_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

#: How an attempt runs. ``"inline"``: an ``async def`` task runs on the
#: worker's event loop and a timeout or cancel cancels it (``CancelledError``
#: at its next ``await``); a sync task runs in a thread of its own and is
#: asked to stop (``context().cancelled``) — a sync function that ignores it
#: keeps running in the background after its attempt is recorded.
#: ``"process"``: the attempt runs in a child process that is terminated
#: (SIGTERM, then SIGKILL) on timeout or cancel — a hard stop, also for
#: CPU-bound code, at the cost of a process start per attempt (~0.1 s). The
#: task must be a module-level function of an importable module.
Isolation = Literal["inline", "process"]


class NonRetryableError(Exception):
    """Raise it to fail the run at once, whatever its retry policy.

    ``type`` names the failure (default: the class name), as it appears in
    ``Failure.type`` and in ``retry_on`` / ``never_retry_on`` lists.
    """

    def __init__(self, message: str = "", *, type: str | None = None) -> None:  # noqa: A002 - mirrors Failure.type
        super().__init__(message)
        self.type = type


class RetryAfterError(Exception):
    """Raise it to be retried after ``delay`` seconds (within the run's retry budget)."""

    def __init__(self, delay: float, message: str = "", *, type: str | None = None) -> None:  # noqa: A002
        super().__init__(message or f"retry after {delay} s")
        if not (isinstance(delay, (int, float)) and math.isfinite(delay) and delay >= 0):
            raise ValueError(f"delay must be a number of seconds >= 0, got {delay!r}")
        self.delay = float(delay)
        self.type = type


def _seconds_to_ms(name: str, value: float | None) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return int(round(value * 1000))


@dataclass(frozen=True)
class Task(Generic[R]):
    """A task definition: its name, function and declared options.

    Made by :func:`task`; calling it calls the function.
    """

    name: str
    fn: Callable[..., Any]
    #: Retries after the first attempt (0: none).
    retries: int = 0
    #: Delays before each retry, in seconds; the last one repeats. Empty: exponential backoff.
    retry_delays: Sequence[float] = ()
    #: First delay of the exponential backoff, in seconds (default 1).
    initial_delay: float | None = None
    #: Growth of the exponential backoff (default 2; 1 = fixed).
    backoff: float | None = None
    #: Cap of one delay, in seconds (default 60).
    max_delay: float | None = None
    #: Random spread of each delay, 0–1.
    jitter: float = 0.0
    #: Retry only failures of these types.
    retry_on: Sequence[str] = ()
    #: Never retry failures of these types.
    never_retry_on: Sequence[str] = ()
    #: Timeout of one attempt, in seconds (None: none). Runs submitted with their own timeout use theirs.
    timeout: float | None = None
    #: Expire a run not started this many seconds after it became due.
    schedule_to_start_timeout: float | None = None
    #: Most runs of this task executing at once across all workers (None: unlimited).
    concurrency_limit: int | None = None
    #: See :data:`Isolation`.
    isolation: Isolation = "inline"
    is_async: bool = field(init=False)

    def __post_init__(self) -> None:
        if not _TASK_NAME.match(self.name):
            raise ValueError(f'task name {self.name!r} is not valid: use 1–128 characters of letters, digits, "-" and "_"')
        if not callable(self.fn):
            raise TypeError(f"task {self.name!r}: {self.fn!r} is not callable")
        if not isinstance(self.retries, int) or not 0 <= self.retries <= 100:
            raise ValueError(f"task {self.name!r}: retries must be 0–100, got {self.retries!r}")
        if self.isolation not in ("inline", "process"):
            raise ValueError(f'task {self.name!r}: isolation must be "inline" or "process", got {self.isolation!r}')
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"task {self.name!r}: jitter must be between 0 and 1, got {self.jitter!r}")
        if self.concurrency_limit is not None and (not isinstance(self.concurrency_limit, int) or self.concurrency_limit < 1):
            raise ValueError(f"task {self.name!r}: concurrency_limit must be a whole number >= 1, got {self.concurrency_limit!r}")
        _seconds_to_ms("timeout", self.timeout)
        object.__setattr__(self, "is_async", inspect.iscoroutinefunction(self.fn))
        if self.is_async and self.isolation == "process":
            raise ValueError(f'task {self.name!r}: isolation="process" is for sync functions; an async task is cancelled at its next await')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    @property
    def timeout_ms(self) -> int:
        return _seconds_to_ms("timeout", self.timeout)

    def retry_policy(self) -> types_pb2.RetryPolicy | None:
        """The declared retry policy as proto, or None when the task declares none."""
        if not self.retries and not self.retry_delays and not self.retry_on and not self.never_retry_on:
            return None
        return types_pb2.RetryPolicy(
            max_retries=self.retries,
            initial_delay_ms=_seconds_to_ms("initial_delay", self.initial_delay),
            backoff_multiplier=float(self.backoff or 0.0),
            max_delay_ms=_seconds_to_ms("max_delay", self.max_delay),
            jitter=float(self.jitter),
            delays_ms=[_seconds_to_ms("retry_delays", d) for d in self.retry_delays],
            retry_on=list(self.retry_on),
            never_retry_on=list(self.never_retry_on),
        )

    def to_proto(self) -> worker_pb2.WorkerTask:
        """The ``WorkerTask`` a worker announces for this task."""
        t = worker_pb2.WorkerTask(
            name=self.name,
            timeout_ms=self.timeout_ms,
            schedule_to_start_timeout_ms=_seconds_to_ms("schedule_to_start_timeout", self.schedule_to_start_timeout),
            concurrency_limit=self.concurrency_limit or 0,
        )
        policy = self.retry_policy()
        if policy is not None:
            t.retry.CopyFrom(policy)
        return t


@overload
def task(fn: Callable[..., R], /) -> Task[R]: ...


@overload
def task(
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delays: Sequence[float] = (),
    initial_delay: float | None = None,
    backoff: float | None = None,
    max_delay: float | None = None,
    jitter: float = 0.0,
    retry_on: Sequence[str] = (),
    never_retry_on: Sequence[str] = (),
    timeout: float | None = None,
    schedule_to_start_timeout: float | None = None,
    concurrency_limit: int | None = None,
    isolation: Isolation = "inline",
) -> Callable[[Callable[..., R]], Task[R]]: ...


def task(fn: Callable[..., Any] | None = None, /, *, name: str | None = None, **options: Any) -> Any:
    """Declare a task: ``@taskwire.task(name="send-email", retries=3, timeout=30.0)``.

    ``name`` defaults to the function's name. Durations are seconds. The
    options (retries, delays, timeout, ...) are defaults for runs submitted
    without their own; see :class:`Task` for each.
    """

    def make(f: Callable[..., Any]) -> Task[Any]:
        return Task(name=name or f.__name__, fn=f, **options)

    if fn is not None:
        if options or name is not None:
            raise TypeError("use @taskwire.task or @taskwire.task(name=..., ...), not both")
        return make(fn)
    return make
