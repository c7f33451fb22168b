"""Pythonic views of the taskwire.v1 messages.

Every wrapper keeps the generated message in ``.proto`` for fields that have
no property here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence, TypeVar, cast

from google.protobuf import timestamp_pb2

from .payload import decode_payload
from .v1 import types_pb2

__all__ = [
    "RunState",
    "EventType",
    "AttemptOutcome",
    "TERMINAL_STATES",
    "Failure",
    "RetryPolicy",
    "Attempt",
    "LogLine",
    "Progress",
    "Run",
    "Event",
    "Heartbeat",
    "RunPage",
]


class RunState(enum.IntEnum):
    """taskwire.v1.RunState, without the ``RUN_STATE_`` prefix."""

    UNSPECIFIED = 0
    SCHEDULED = 1
    PENDING = 2
    RUNNING = 3
    AWAITING_RETRY = 4
    COMPLETED = 5
    FAILED = 6
    CANCELLED = 7

    @property
    def proto_name(self) -> str:
        return "RUN_STATE_" + self.name

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @classmethod
    def parse(cls, value: RunState | int | str) -> RunState:
        """Accept a RunState, its number, ``"COMPLETED"``/``"completed"`` or ``"RUN_STATE_COMPLETED"``."""
        if isinstance(value, str):
            name = value.upper()
            return cls[name[len("RUN_STATE_"):] if name.startswith("RUN_STATE_") else name]
        return cls(value)


TERMINAL_STATES = frozenset({RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED})


class EventType(enum.IntEnum):
    """taskwire.v1.EventType, without the ``EVENT_TYPE_`` prefix."""

    UNSPECIFIED = 0
    SUBMITTED = 1
    STARTED = 2
    COMPLETED = 3
    FAILED = 4
    RETRY_SCHEDULED = 5
    CRASHED = 6
    CANCEL_REQUESTED = 7
    CANCELLED = 8
    TIMED_OUT = 9
    CACHED = 10
    PROGRESS = 11
    LOG = 12
    EXPIRED = 13
    RELEASED = 14
    RESUBMITTED = 15

    @property
    def proto_name(self) -> str:
        return "EVENT_TYPE_" + self.name


class AttemptOutcome(enum.IntEnum):
    """taskwire.v1.AttemptOutcome, without the ``ATTEMPT_OUTCOME_`` prefix."""

    UNSPECIFIED = 0
    RUNNING = 1
    SUCCEEDED = 2
    FAILED = 3
    CRASHED = 4
    TIMED_OUT = 5
    CANCELLED = 6


E = TypeVar("E", bound=enum.IntEnum)


def _enum(cls: type[E], value: int) -> E:
    """The enum member; an unknown value (a newer broker) stays a plain int."""
    try:
        return cls(value)
    except ValueError:
        return cast(E, value)


def _ts(msg: Any, name: str) -> datetime | None:
    if not msg.HasField(name):
        return None
    ts: timestamp_pb2.Timestamp = getattr(msg, name)
    return ts.ToDatetime(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Failure:
    """Why an attempt or a run failed (taskwire.v1.Failure)."""

    type: str
    message: str
    stack: str = ""
    retryable: bool = False

    @classmethod
    def from_proto(cls, msg: types_pb2.Failure) -> Failure:
        return cls(type=msg.type, message=msg.message, stack=msg.stack, retryable=msg.retryable)


@dataclass
class RetryPolicy:
    """Retry policy of a run (taskwire.v1.RetryPolicy). ``None`` fields use the broker default.

    Attributes:
        max_retries: retries after the first attempt (attempts = max_retries + 1), 0–100.
        initial_delay_ms: delay before the first retry in ms (broker default 1000).
        backoff_multiplier: factor between delays (default 2.0; 1.0 = fixed).
        max_delay_ms: upper bound of one delay in ms (default 60000).
        jitter: random spread of each delay, 0–1 (default 0).
        delays_ms: explicit delays per retry in ms, the last repeats; overrides
            the exponential settings when not empty.
        retry_on: retry only errors of these types (empty: any).
        never_retry_on: never retry errors of these types.
    """

    max_retries: int = 0
    initial_delay_ms: int | None = None
    backoff_multiplier: float | None = None
    max_delay_ms: int | None = None
    jitter: float | None = None
    delays_ms: Sequence[int] = field(default_factory=list)
    retry_on: Sequence[str] = field(default_factory=list)
    never_retry_on: Sequence[str] = field(default_factory=list)

    def to_proto(self) -> types_pb2.RetryPolicy:
        return types_pb2.RetryPolicy(
            max_retries=int(self.max_retries),
            initial_delay_ms=int(self.initial_delay_ms or 0),
            backoff_multiplier=float(self.backoff_multiplier or 0.0),
            max_delay_ms=int(self.max_delay_ms or 0),
            jitter=float(self.jitter or 0.0),
            delays_ms=[int(d) for d in self.delays_ms],
            retry_on=list(self.retry_on),
            never_retry_on=list(self.never_retry_on),
        )

    @classmethod
    def from_value(cls, value: RetryPolicy | Mapping[str, Any] | types_pb2.RetryPolicy) -> RetryPolicy:
        """Accept a RetryPolicy, a dict with the same (proto) field names, or the proto message."""
        if isinstance(value, RetryPolicy):
            return value
        if isinstance(value, types_pb2.RetryPolicy):
            return cls(
                max_retries=value.max_retries,
                initial_delay_ms=value.initial_delay_ms or None,
                backoff_multiplier=value.backoff_multiplier or None,
                max_delay_ms=value.max_delay_ms or None,
                jitter=value.jitter or None,
                delays_ms=list(value.delays_ms),
                retry_on=list(value.retry_on),
                never_retry_on=list(value.never_retry_on),
            )
        if isinstance(value, Mapping):
            unknown = set(value) - set(cls.__dataclass_fields__)
            if unknown:
                raise TypeError(f"unknown retry option(s): {', '.join(sorted(unknown))}")
            return cls(**value)
        raise TypeError(f"retry must be a RetryPolicy or a dict, not {type(value).__name__}")


@dataclass(frozen=True)
class Attempt:
    number: int
    worker_id: str
    started_at: datetime | None
    finished_at: datetime | None
    outcome: AttemptOutcome
    error: Failure | None

    @classmethod
    def from_proto(cls, msg: types_pb2.Attempt) -> Attempt:
        return cls(
            number=msg.number,
            worker_id=msg.worker_id,
            started_at=_ts(msg, "started_at"),
            finished_at=_ts(msg, "finished_at"),
            outcome=_enum(AttemptOutcome, msg.outcome),
            error=Failure.from_proto(msg.error) if msg.HasField("error") else None,
        )


@dataclass(frozen=True)
class LogLine:
    time: datetime | None
    level: str
    message: str
    attempt: int

    @classmethod
    def from_proto(cls, msg: types_pb2.LogLine) -> LogLine:
        return cls(time=_ts(msg, "time"), level=msg.level, message=msg.message, attempt=msg.attempt)


@dataclass(frozen=True)
class Progress:
    fraction: float
    message: str


class Run:
    """A run's record (taskwire.v1.TaskRun) with decoded payloads and Python types."""

    __slots__ = ("proto",)

    def __init__(self, proto: types_pb2.TaskRun) -> None:
        self.proto = proto

    # identity and state
    @property
    def id(self) -> str:
        return self.proto.id

    @property
    def task(self) -> str:
        return self.proto.task

    @property
    def state(self) -> RunState:
        return _enum(RunState, self.proto.state)

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def queue(self) -> str:
        return self.proto.queue

    # payloads
    @property
    def args(self) -> Any:
        """Decoded arguments (a list for JSON positional args)."""
        return decode_payload(self.proto.args) if self.proto.HasField("args") else None

    @property
    def result(self) -> Any:
        """Decoded result when COMPLETED, else None."""
        return decode_payload(self.proto.result) if self.proto.HasField("result") else None

    @property
    def error(self) -> Failure | None:
        """The last attempt's error when FAILED or CANCELLED, else None."""
        return Failure.from_proto(self.proto.error) if self.proto.HasField("error") else None

    # attempts
    @property
    def attempt(self) -> int:
        return self.proto.attempt

    @property
    def attempts(self) -> list[Attempt]:
        return [Attempt.from_proto(a) for a in self.proto.attempts]

    @property
    def worker_id(self) -> str:
        return self.proto.worker_id

    # flags
    @property
    def cached(self) -> bool:
        return self.proto.cached

    @property
    def cancel_requested(self) -> bool:
        return self.proto.cancel_requested

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.proto.options.labels)

    @property
    def progress(self) -> Progress | None:
        if not self.proto.HasField("progress"):
            return None
        return Progress(self.proto.progress.fraction, self.proto.progress.message)

    @property
    def logs(self) -> list[LogLine]:
        return [LogLine.from_proto(line) for line in self.proto.logs]

    @property
    def revision(self) -> int:
        return self.proto.revision

    @property
    def last_event(self) -> EventType:
        return _enum(EventType, self.proto.last_event)

    # times (timezone-aware UTC, None when unset)
    @property
    def created_at(self) -> datetime | None:
        return _ts(self.proto, "created_at")

    @property
    def scheduled_at(self) -> datetime | None:
        return _ts(self.proto, "scheduled_at")

    @property
    def started_at(self) -> datetime | None:
        return _ts(self.proto, "started_at")

    @property
    def finished_at(self) -> datetime | None:
        return _ts(self.proto, "finished_at")

    @property
    def updated_at(self) -> datetime | None:
        return _ts(self.proto, "updated_at")

    @property
    def next_attempt_at(self) -> datetime | None:
        return _ts(self.proto, "next_attempt_at")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.proto == self.proto

    def __hash__(self) -> int:
        return hash((self.proto.id, self.proto.revision))

    def __repr__(self) -> str:
        state = self.state
        name = state.name if isinstance(state, RunState) else str(state)
        return f"Run(id={self.id!r}, task={self.task!r}, state={name}, attempt={self.attempt})"


@dataclass(frozen=True)
class Event:
    """One change of one run (taskwire.v1.RunEvent)."""

    cursor: str
    run_id: str
    task: str
    type: EventType
    state: RunState
    attempt: int
    time: datetime | None
    run: Run | None
    log: LogLine | None
    proto: types_pb2.RunEvent = field(repr=False, compare=False)

    @classmethod
    def from_proto(cls, msg: types_pb2.RunEvent) -> Event:
        return cls(
            cursor=msg.cursor,
            run_id=msg.run_id,
            task=msg.task,
            type=_enum(EventType, msg.type),
            state=_enum(RunState, msg.state),
            attempt=msg.attempt,
            time=_ts(msg, "time"),
            run=Run(msg.run) if msg.HasField("run") else None,
            log=LogLine.from_proto(msg.log) if msg.HasField("log") else None,
            proto=msg,
        )


@dataclass(frozen=True)
class Heartbeat:
    """Idle-stream heartbeat; ``cursor`` is how far the broker has scanned."""

    time: datetime | None
    cursor: str


@dataclass(frozen=True)
class RunPage:
    """One page of ListRuns: runs newest first; ``next_page_token`` is "" on the last page."""

    runs: list[Run]
    next_page_token: str

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)
