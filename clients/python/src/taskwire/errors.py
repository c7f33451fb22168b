"""Exceptions raised by the taskwire client.

Hierarchy::

    TaskwireError                   base of everything below; .code, .message
    ├── RpcError                    a gRPC call failed; .code is its grpc.StatusCode
    │   ├── InvalidArgumentError    INVALID_ARGUMENT (the message names the field)
    │   ├── NotFoundError           NOT_FOUND (unknown run)
    │   ├── AlreadyExistsError      ALREADY_EXISTS
    │   ├── FailedPreconditionError FAILED_PRECONDITION (e.g. cancelling a finished run)
    │   ├── ResourceExhaustedError  RESOURCE_EXHAUSTED (payload over the limit)
    │   ├── UnavailableError        UNAVAILABLE (retry safely with an idempotency key)
    │   ├── DeadlineExceededError   DEADLINE_EXCEEDED (the per-call deadline elapsed)
    │   ├── UnauthenticatedError    UNAUTHENTICATED
    │   ├── PermissionDeniedError   PERMISSION_DENIED
    │   ├── CallCancelledError      CANCELLED (the call, not the run, was cancelled)
    │   ├── UnimplementedError      UNIMPLEMENTED
    │   └── InternalError           INTERNAL, UNKNOWN, DATA_LOSS
    ├── RunError                    a run ended without a result; .run
    │   ├── RunFailedError          the run is FAILED; .failure (type, message, stack)
    │   └── RunCancelledError       the run is CANCELLED
    └── RunTimeoutError             result()/wait() timed out (also a TimeoutError)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc

if TYPE_CHECKING:
    from .models import Failure, Run

__all__ = [
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
]

#: The message of the broker's one retryable ABORTED answer to Submit: two
#: submits with the same idempotency key raced and the key's mapping changed
#: under one of them. Repeating the call with the same key is safe.
RETRYABLE_ABORTED_MESSAGE = "idempotency key changed concurrently; retry the call"


class TaskwireError(Exception):
    """Base class of every error raised by this package.

    ``code`` is the gRPC status code for errors that come from the broker,
    ``grpc.StatusCode.DEADLINE_EXCEEDED`` for :class:`RunTimeoutError` and
    ``None`` for :class:`RunError` (the call succeeded; the run did not).
    """

    code: grpc.StatusCode | None = None

    def __init__(self, message: str, *, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    # Predicates, so callers need not import the subclasses.
    @property
    def is_not_found(self) -> bool:
        return self.code == grpc.StatusCode.NOT_FOUND

    @property
    def is_invalid_argument(self) -> bool:
        return self.code == grpc.StatusCode.INVALID_ARGUMENT

    @property
    def is_failed_precondition(self) -> bool:
        return self.code == grpc.StatusCode.FAILED_PRECONDITION

    @property
    def is_resource_exhausted(self) -> bool:
        return self.code == grpc.StatusCode.RESOURCE_EXHAUSTED

    @property
    def is_unavailable(self) -> bool:
        return self.code == grpc.StatusCode.UNAVAILABLE

    @property
    def is_deadline_exceeded(self) -> bool:
        return self.code == grpc.StatusCode.DEADLINE_EXCEEDED

    def __str__(self) -> str:
        if self.code is not None:
            return f"{self.code.name}: {self.message}"
        return self.message


class RpcError(TaskwireError):
    """A gRPC call to the broker failed with a status code."""

    code: grpc.StatusCode

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode,
        trailing_metadata: Any = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.trailing_metadata = trailing_metadata
        self.cause = cause
        #: How many attempts the client made before giving up (see ``CallRetry``).
        self.attempts = 1

    @property
    def details(self) -> str:
        """The status message (alias of ``message``, as in ``grpc.RpcError``)."""
        return self.message

    @property
    def retryable(self) -> bool:
        """True when repeating the same call may succeed: UNAVAILABLE, or the
        broker's ABORTED "idempotency key changed concurrently; retry the call".

        The client already retried such a call (``Client(call_retry=...)``),
        ``attempts`` times. Repeat a submit only with its idempotency key, so a
        retry cannot create a second run.
        """
        return self.code == grpc.StatusCode.UNAVAILABLE or (
            self.code == grpc.StatusCode.ABORTED and self.message == RETRYABLE_ABORTED_MESSAGE
        )


class InvalidArgumentError(RpcError):
    """INVALID_ARGUMENT: the request was rejected; the message names the field."""


class NotFoundError(RpcError):
    """NOT_FOUND: the run does not exist (or is no longer retained)."""


class AlreadyExistsError(RpcError):
    """ALREADY_EXISTS: e.g. a submit's request id was already used for another submit."""


class FailedPreconditionError(RpcError):
    """FAILED_PRECONDITION: e.g. cancelling a completed or failed run."""


class ResourceExhaustedError(RpcError):
    """RESOURCE_EXHAUSTED: e.g. a payload over the broker's limit."""


class UnavailableError(RpcError):
    """UNAVAILABLE: the broker (or its NATS) is unreachable; safe to retry with an idempotency key."""


class DeadlineExceededError(RpcError):
    """DEADLINE_EXCEEDED: the per-call deadline elapsed before the broker answered."""


class UnauthenticatedError(RpcError):
    """UNAUTHENTICATED: missing or bad token."""


class PermissionDeniedError(RpcError):
    """PERMISSION_DENIED."""


class CallCancelledError(RpcError):
    """CANCELLED: the gRPC call was cancelled (not to be confused with a cancelled run)."""


class UnimplementedError(RpcError):
    """UNIMPLEMENTED: the broker does not know this method."""


class InternalError(RpcError):
    """INTERNAL, UNKNOWN or DATA_LOSS: a broker-side bug or a broken response."""


_BY_CODE: dict[grpc.StatusCode, type[RpcError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.CANCELLED: CallCancelledError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNKNOWN: InternalError,
    grpc.StatusCode.DATA_LOSS: InternalError,
}


def from_rpc_error(err: grpc.RpcError) -> RpcError:
    """Convert a ``grpc.RpcError`` (sync or ``grpc.aio.AioRpcError``) into an :class:`RpcError`."""
    code_fn = getattr(err, "code", None)
    code = code_fn() if callable(code_fn) else None
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    details_fn = getattr(err, "details", None)
    details = details_fn() if callable(details_fn) else None
    meta_fn = getattr(err, "trailing_metadata", None)
    try:
        meta = meta_fn() if callable(meta_fn) else None
    except Exception:  # pragma: no cover - defensive
        meta = None
    cls = _BY_CODE.get(code, RpcError)
    return cls(details or code.name, code=code, trailing_metadata=meta, cause=err)


class RunError(TaskwireError):
    """The run ended without a result (FAILED or CANCELLED). ``run`` is its final record."""

    def __init__(self, message: str, run: Run) -> None:
        super().__init__(message)
        self.run = run

    @property
    def run_id(self) -> str:
        return self.run.id


class RunFailedError(RunError):
    """``result()`` found the run FAILED. ``failure`` carries the task's error."""

    def __init__(self, run: Run) -> None:
        from .models import Failure

        self.failure: Failure = run.error or Failure(type="", message="", stack="", retryable=False)
        msg = f"run {run.id} ({run.task}) failed"
        if self.failure.type or self.failure.message:
            msg += f": {self.failure.type or 'Error'}: {self.failure.message}"
        super().__init__(msg, run)

    @property
    def error_type(self) -> str:
        """The task error's type, e.g. ``"TypeError"`` or ``"ScheduleToStartTimeout"``."""
        return self.failure.type

    @property
    def error_message(self) -> str:
        return self.failure.message

    @property
    def stack(self) -> str:
        return self.failure.stack


class RunCancelledError(RunError):
    """``result()`` found the run CANCELLED. ``reason`` is the recorded cancel reason, if any."""

    def __init__(self, run: Run) -> None:
        self.reason: str = run.error.message if run.error else ""
        msg = f"run {run.id} ({run.task}) was cancelled"
        if self.reason:
            msg += f": {self.reason}"
        super().__init__(msg, run)


class RunTimeoutError(TaskwireError, TimeoutError):
    """``result(timeout=)`` / ``wait(timeout=)`` elapsed before the run was terminal.

    The run keeps going; ``run`` is the last record seen (or None).
    """

    def __init__(self, run_id: str, timeout: float, run: Run | None = None) -> None:
        super().__init__(
            f"run {run_id} not finished after {timeout:g}s", code=grpc.StatusCode.DEADLINE_EXCEEDED
        )
        self.run_id = run_id
        self.timeout = timeout
        self.run = run
