import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from taskwire.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConnectRequest(_message.Message):
    __slots__ = ("hello", "heartbeat", "finished", "log", "progress", "drain")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    DRAIN_FIELD_NUMBER: _ClassVar[int]
    hello: WorkerHello
    heartbeat: WorkerHeartbeat
    finished: AttemptFinished
    log: AttemptLog
    progress: AttemptProgress
    drain: WorkerDrain
    def __init__(self, hello: _Optional[_Union[WorkerHello, _Mapping]] = ..., heartbeat: _Optional[_Union[WorkerHeartbeat, _Mapping]] = ..., finished: _Optional[_Union[AttemptFinished, _Mapping]] = ..., log: _Optional[_Union[AttemptLog, _Mapping]] = ..., progress: _Optional[_Union[AttemptProgress, _Mapping]] = ..., drain: _Optional[_Union[WorkerDrain, _Mapping]] = ...) -> None: ...

class ConnectResponse(_message.Message):
    __slots__ = ("welcome", "assignment", "cancel", "heartbeat")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    welcome: WorkerWelcome
    assignment: RunAssignment
    cancel: CancelNotice
    heartbeat: BrokerHeartbeat
    def __init__(self, welcome: _Optional[_Union[WorkerWelcome, _Mapping]] = ..., assignment: _Optional[_Union[RunAssignment, _Mapping]] = ..., cancel: _Optional[_Union[CancelNotice, _Mapping]] = ..., heartbeat: _Optional[_Union[BrokerHeartbeat, _Mapping]] = ...) -> None: ...

class WorkerHello(_message.Message):
    __slots__ = ("worker_id", "tasks", "queues", "concurrency", "sdk", "running")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    SDK_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    tasks: _containers.RepeatedCompositeFieldContainer[WorkerTask]
    queues: _containers.RepeatedScalarFieldContainer[str]
    concurrency: int
    sdk: str
    running: _containers.RepeatedCompositeFieldContainer[HeldRun]
    def __init__(self, worker_id: _Optional[str] = ..., tasks: _Optional[_Iterable[_Union[WorkerTask, _Mapping]]] = ..., queues: _Optional[_Iterable[str]] = ..., concurrency: _Optional[int] = ..., sdk: _Optional[str] = ..., running: _Optional[_Iterable[_Union[HeldRun, _Mapping]]] = ...) -> None: ...

class WorkerTask(_message.Message):
    __slots__ = ("name", "retry", "timeout_ms", "schedule_to_start_timeout_ms", "concurrency_limit", "key_concurrency_limit", "rate_limit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_TO_START_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    KEY_CONCURRENCY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    retry: _types_pb2.RetryPolicy
    timeout_ms: int
    schedule_to_start_timeout_ms: int
    concurrency_limit: int
    key_concurrency_limit: int
    rate_limit: TaskRateLimit
    def __init__(self, name: _Optional[str] = ..., retry: _Optional[_Union[_types_pb2.RetryPolicy, _Mapping]] = ..., timeout_ms: _Optional[int] = ..., schedule_to_start_timeout_ms: _Optional[int] = ..., concurrency_limit: _Optional[int] = ..., key_concurrency_limit: _Optional[int] = ..., rate_limit: _Optional[_Union[TaskRateLimit, _Mapping]] = ...) -> None: ...

class TaskRateLimit(_message.Message):
    __slots__ = ("limit", "interval_ms", "per_key")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    PER_KEY_FIELD_NUMBER: _ClassVar[int]
    limit: int
    interval_ms: int
    per_key: bool
    def __init__(self, limit: _Optional[int] = ..., interval_ms: _Optional[int] = ..., per_key: _Optional[bool] = ...) -> None: ...

class HeldRun(_message.Message):
    __slots__ = ("run_id", "attempt")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    attempt: int
    def __init__(self, run_id: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class WorkerHeartbeat(_message.Message):
    __slots__ = ("running", "free_slots")
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    FREE_SLOTS_FIELD_NUMBER: _ClassVar[int]
    running: _containers.RepeatedCompositeFieldContainer[HeldRun]
    free_slots: int
    def __init__(self, running: _Optional[_Iterable[_Union[HeldRun, _Mapping]]] = ..., free_slots: _Optional[int] = ...) -> None: ...

class AttemptFinished(_message.Message):
    __slots__ = ("run_id", "attempt", "result", "failure", "timed_out", "cancelled")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    attempt: int
    result: _types_pb2.Payload
    failure: AttemptFailure
    timed_out: AttemptTimedOut
    cancelled: AttemptCancelled
    def __init__(self, run_id: _Optional[str] = ..., attempt: _Optional[int] = ..., result: _Optional[_Union[_types_pb2.Payload, _Mapping]] = ..., failure: _Optional[_Union[AttemptFailure, _Mapping]] = ..., timed_out: _Optional[_Union[AttemptTimedOut, _Mapping]] = ..., cancelled: _Optional[_Union[AttemptCancelled, _Mapping]] = ...) -> None: ...

class AttemptFailure(_message.Message):
    __slots__ = ("failure", "retry_after_ms")
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    failure: _types_pb2.Failure
    retry_after_ms: int
    def __init__(self, failure: _Optional[_Union[_types_pb2.Failure, _Mapping]] = ..., retry_after_ms: _Optional[int] = ...) -> None: ...

class AttemptTimedOut(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AttemptCancelled(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class AttemptLog(_message.Message):
    __slots__ = ("run_id", "attempt", "level", "message", "time")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    attempt: int
    level: str
    message: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, run_id: _Optional[str] = ..., attempt: _Optional[int] = ..., level: _Optional[str] = ..., message: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AttemptProgress(_message.Message):
    __slots__ = ("run_id", "attempt", "fraction", "message")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    attempt: int
    fraction: float
    message: str
    def __init__(self, run_id: _Optional[str] = ..., attempt: _Optional[int] = ..., fraction: _Optional[float] = ..., message: _Optional[str] = ...) -> None: ...

class BrokerHeartbeat(_message.Message):
    __slots__ = ("time",)
    TIME_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WorkerDrain(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WorkerWelcome(_message.Message):
    __slots__ = ("worker_id", "heartbeat_interval_ms", "max_result_bytes", "namespace")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULT_BYTES_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    heartbeat_interval_ms: int
    max_result_bytes: int
    namespace: str
    def __init__(self, worker_id: _Optional[str] = ..., heartbeat_interval_ms: _Optional[int] = ..., max_result_bytes: _Optional[int] = ..., namespace: _Optional[str] = ...) -> None: ...

class RunAssignment(_message.Message):
    __slots__ = ("run_id", "task", "attempt", "args", "timeout_ms", "deadline", "trace_parent", "queue", "labels", "namespace")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    TRACE_PARENT_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    task: str
    attempt: int
    args: _types_pb2.Payload
    timeout_ms: int
    deadline: _timestamp_pb2.Timestamp
    trace_parent: str
    queue: str
    labels: _containers.ScalarMap[str, str]
    namespace: str
    def __init__(self, run_id: _Optional[str] = ..., task: _Optional[str] = ..., attempt: _Optional[int] = ..., args: _Optional[_Union[_types_pb2.Payload, _Mapping]] = ..., timeout_ms: _Optional[int] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trace_parent: _Optional[str] = ..., queue: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., namespace: _Optional[str] = ...) -> None: ...

class CancelNotice(_message.Message):
    __slots__ = ("run_id", "attempt", "reason")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    attempt: int
    reason: str
    def __init__(self, run_id: _Optional[str] = ..., attempt: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...
