"""What a running task sees of its run: :func:`taskwire.context`."""

from __future__ import annotations

import contextvars
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Mapping

__all__ = ["TaskContext", "TaskLogger", "context", "Cancelled"]

_local_log = logging.getLogger("taskwire.task")


class Cancelled(Exception):
    """Raised by :meth:`TaskContext.raise_if_cancelled` once the attempt was cancelled or timed out."""


class TaskLogger:
    """A run's logger: each line becomes an event of the run (``StreamEvents``) and is kept in its record.

    At most 200 lines per attempt reach the record (the rest are only logged
    locally, through the ``taskwire.task`` logger).
    """

    def __init__(self, emit: Callable[[str, str], None], run_id: str, attempt: int) -> None:
        self._emit = emit
        self._extra = {"run_id": run_id, "attempt": attempt}

    def _line(self, level: str, message: object) -> None:
        text = str(message)
        _local_log.log({"debug": logging.DEBUG, "warn": logging.WARNING, "error": logging.ERROR}.get(level, logging.INFO), text, extra=self._extra)
        self._emit(level, text)

    def debug(self, message: object) -> None:
        self._line("debug", message)

    def info(self, message: object) -> None:
        self._line("info", message)

    def warning(self, message: object) -> None:
        self._line("warn", message)

    warn = warning

    def error(self, message: object) -> None:
        self._line("error", message)


@dataclass
class TaskContext:
    """The run an attempt belongs to, its logger, progress and cancellation.

    Read it inside a task with :func:`taskwire.context`.
    """

    run_id: str
    task: str
    attempt: int
    #: When the attempt times out (None without a timeout).
    deadline: datetime | None
    labels: Mapping[str, str]
    log: TaskLogger
    _progress: Callable[[float, str], None] = field(repr=False)
    _cancelled: threading.Event = field(default_factory=threading.Event, repr=False)
    _reason: str = field(default="", repr=False)

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress, 0–1 (coalesced: at most 4 writes a second reach the run)."""
        self._progress(float(fraction), str(message))

    @property
    def cancelled(self) -> bool:
        """True once the attempt was cancelled or ran past its timeout: stop soon."""
        return self._cancelled.is_set()

    @property
    def cancel_reason(self) -> str:
        return self._reason

    def raise_if_cancelled(self) -> None:
        """Raise :class:`Cancelled` if the attempt was cancelled or timed out (for long sync loops)."""
        if self._cancelled.is_set():
            raise Cancelled(self._reason or "cancelled")

    def wait_cancelled(self, timeout: float | None = None) -> bool:
        """Block (a sync task) until cancelled or ``timeout`` seconds pass; True if cancelled."""
        return self._cancelled.wait(timeout)

    def _cancel(self, reason: str) -> None:
        if not self._cancelled.is_set():
            self._reason = reason
            self._cancelled.set()


_current: contextvars.ContextVar[TaskContext] = contextvars.ContextVar("taskwire_task_context")


def context() -> TaskContext:
    """The context of the running attempt. Raises RuntimeError outside a task run by a worker."""
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("taskwire.context() is only available inside a task executed by a taskwire worker") from None


def _set_current(ctx: TaskContext) -> contextvars.Token[TaskContext]:
    return _current.set(ctx)
