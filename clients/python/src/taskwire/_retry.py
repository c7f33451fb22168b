"""Client-side retries of failed calls (not the task's :class:`RetryPolicy`).

Shared by the sync and asyncio clients; transport-free. The loop itself lives
in each client (``time.sleep`` vs ``asyncio.sleep``) and asks
:func:`next_delay` whether and how long to wait before the next attempt.

Why not gRPC's own retryPolicy (service config): it cannot tell the broker's
retryable ABORTED from other ABORTED answers (it matches codes only), gRPC
caps it at 5 attempts and silently stops retrying a call whose request is
larger than the per-call retry buffer (256 KiB by default, while Submit
accepts 512 KiB of args), and it does not apply to a channel the caller
brings (``channel=``).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Callable

import grpc

from .errors import RETRYABLE_ABORTED_MESSAGE, RpcError

__all__ = ["CallRetry", "DEFAULT_CALL_RETRY", "next_delay", "retry_submit", "retry_unavailable"]


@dataclass(frozen=True)
class CallRetry:
    """How the client retries a call that failed with a transient error.

    Retried: Submit on UNAVAILABLE, and on ABORTED with the broker's message
    "idempotency key changed concurrently; retry the call", always with the
    same idempotency key or request id (so a retry cannot create a second
    run; a Submit with neither is never retried); GetStatus, ListRuns,
    Cancel and Retry on UNAVAILABLE. Every attempt shares the call's
    deadline (``rpc_timeout`` or the client's ``timeout``): a retry is not
    started when its backoff would end past the deadline, and the last error
    is raised.

    Attributes:
        max_attempts: attempts in all, including the first (default 5);
            1 = no retries.
        initial_backoff: seconds to wait before the second attempt (default 0.05).
        max_backoff: cap of one wait, in seconds, before jitter (default 1.0).
        backoff_multiplier: factor between consecutive waits (default 2.0).
        jitter: random spread of each wait, 0–1 (default 0.2 = ±20 %).
    """

    max_attempts: int = 5
    initial_backoff: float = 0.05
    max_backoff: float = 1.0
    backoff_multiplier: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError("CallRetry.max_attempts must be an int >= 1")
        for name in ("initial_backoff", "max_backoff", "backoff_multiplier", "jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"CallRetry.{name} must be a finite number >= 0")
        if self.max_backoff < self.initial_backoff:
            raise ValueError("CallRetry.max_backoff must be >= initial_backoff")
        if self.backoff_multiplier < 1:
            raise ValueError("CallRetry.backoff_multiplier must be >= 1")
        if self.jitter > 1:
            raise ValueError("CallRetry.jitter must be between 0 and 1")

    def backoff(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``retry`` (1 = the second attempt)."""
        base = min(self.max_backoff, self.initial_backoff * self.backoff_multiplier ** max(0, retry - 1))
        return max(0.0, base * (1 + self.jitter * (2 * rand() - 1)))


#: The default of ``Client(call_retry=...)``.
DEFAULT_CALL_RETRY = CallRetry()

Retryable = Callable[[RpcError], bool]


def retry_unavailable(err: RpcError) -> bool:
    """GetStatus, ListRuns, Cancel, Retry: reads or compare-and-set writes."""
    return err.code == grpc.StatusCode.UNAVAILABLE


def retry_submit(err: RpcError) -> bool:
    """Submit with an idempotency key or a request id: UNAVAILABLE, and the broker's retryable ABORTED."""
    return err.code == grpc.StatusCode.UNAVAILABLE or (
        err.code == grpc.StatusCode.ABORTED and err.message == RETRYABLE_ABORTED_MESSAGE
    )


def next_delay(
    policy: CallRetry | None,
    retryable: Retryable | None,
    err: RpcError,
    attempt: int,
    end: float | None,
    took: float = 0.0,
) -> float | None:
    """Seconds to wait before the next attempt, or None to raise ``err``.

    ``attempt`` is the number of the attempt that failed (1-based); ``end``
    the call's deadline on the ``time.monotonic()`` clock (None: none);
    ``took`` how long that attempt took, in seconds. No retry is started
    that could not end in time: after its backoff there must be room for an
    attempt like the last one (twice its time, at least 10 ms), or the
    caller would get a deadline instead of the real error.
    """
    if policy is None or retryable is None or attempt >= policy.max_attempts or not retryable(err):
        return None
    delay = policy.backoff(attempt)
    if end is not None and time.monotonic() + delay + max(2 * took, 0.01) >= end:
        return None
    return delay
