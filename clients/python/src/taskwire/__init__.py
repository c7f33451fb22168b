"""taskwire — Python client of the taskwire background-task broker.

Quick start::

    import taskwire

    with taskwire.Client() as client:            # TASKWIRE_ADDRESS or localhost:50051
        run = client.submit("add", 2, 3)
        print(run.result(timeout=30))            # 5

Async: :class:`taskwire.AsyncClient`. Generated messages: :mod:`taskwire.v1`.

Workers: define tasks with ``@taskwire.task(name=...)`` and serve them with
``python -m taskwire worker MODULE`` or :func:`taskwire.serve`.
"""

from ._common import BatchInput, BatchItem, TLSConfig, call, submit_options
from ._retry import DEFAULT_CALL_RETRY, CallRetry
from .aio import AsyncClient, AsyncEventStream, AsyncRunHandle
from .client import Client, EventStream, RunHandle
from .errors import (
    AlreadyExistsError,
    CallCancelledError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    RpcError,
    RunCancelledError,
    RunError,
    RunFailedError,
    RunTimeoutError,
    TaskwireError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
    RETRYABLE_ABORTED_MESSAGE,
    from_rpc_error,
)
from .models import (
    TERMINAL_STATES,
    Attempt,
    AttemptOutcome,
    Event,
    EventType,
    Failure,
    Heartbeat,
    LogLine,
    Progress,
    RetryPolicy,
    Run,
    RunPage,
    RunState,
)
from .payload import RawPayload, decode_payload, encode_args, encode_value
from .context import Cancelled, TaskContext, TaskLogger, context
from .task import Isolation, NonRetryableError, RetryAfterError, Task, task
from .worker import Worker, WorkerError, load_tasks, serve, serve_async

__version__ = "0.1.0"

__all__ = [
    "Client",
    "RunHandle",
    "EventStream",
    "AsyncClient",
    "AsyncRunHandle",
    "AsyncEventStream",
    "call",
    "BatchItem",
    "BatchInput",
    "submit_options",
    "CallRetry",
    "TLSConfig",
    "DEFAULT_CALL_RETRY",
    "RetryPolicy",
    "Run",
    "RunPage",
    "RunState",
    "TERMINAL_STATES",
    "Event",
    "EventType",
    "Heartbeat",
    "Attempt",
    "AttemptOutcome",
    "Failure",
    "LogLine",
    "Progress",
    "RawPayload",
    "encode_args",
    "encode_value",
    "decode_payload",
    "TaskwireError",
    "RpcError",
    "InvalidArgumentError",
    "NotFoundError",
    "AlreadyExistsError",
    "FailedPreconditionError",
    "ResourceExhaustedError",
    "UnavailableError",
    "DeadlineExceededError",
    "UnauthenticatedError",
    "PermissionDeniedError",
    "CallCancelledError",
    "UnimplementedError",
    "InternalError",
    "RunError",
    "RunFailedError",
    "RunCancelledError",
    "RunTimeoutError",
    "from_rpc_error",
    "RETRYABLE_ABORTED_MESSAGE",
    "task",
    "Task",
    "Isolation",
    "NonRetryableError",
    "RetryAfterError",
    "context",
    "TaskContext",
    "TaskLogger",
    "Cancelled",
    "Worker",
    "WorkerError",
    "load_tasks",
    "serve",
    "serve_async",
    "__version__",
]
