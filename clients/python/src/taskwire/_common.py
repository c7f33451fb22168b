"""Shared, transport-free pieces of the sync and async clients."""

from __future__ import annotations

import math
import os
import time
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Sequence, Union

from .errors import RunCancelledError, RunFailedError
from .models import RetryPolicy, Run, RunState
from .payload import RawPayload, encode_args, encode_value
from .v1 import taskwire_pb2, types_pb2

DEFAULT_ADDRESS = "localhost:50051"
ADDRESS_ENV = "TASKWIRE_ADDRESS"
DEFAULT_TIMEOUT = 10.0
# GetStatus waits are split into chunks of at most this many seconds (the
# broker accepts up to 300 s; shorter chunks survive idle-killing proxies).
MAX_WAIT_CHUNK = 60.0
DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH = 64 * 1024 * 1024
USER_AGENT = "taskwire-python/0.1.0"

__all__ = ["BatchItem", "BatchInput", "call", "submit_options"]


def resolve_address(address: str | None) -> str:
    return address or os.environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS


def channel_options(options: Sequence[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    merged: dict[str, Any] = {
        "grpc.max_receive_message_length": DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH,
        "grpc.primary_user_agent": USER_AGENT,
    }
    for key, value in options or ():
        merged[key] = value
    return list(merged.items())


TOKEN_ENV = "TASKWIRE_TOKEN"


@dataclass(frozen=True)
class TLSConfig:
    """TLS to the broker. Each of ``ca``, ``cert``, ``key`` is PEM (bytes, or
    str starting with ``-----BEGIN``) or a path to a PEM file.

    ``ca``: the CA bundle the broker's certificate must chain to (default:
    the system's roots); ``cert`` + ``key``: the client certificate for
    brokers that require mTLS.
    """

    ca: bytes | str | None = None
    cert: bytes | str | None = None
    key: bytes | str | None = None


def _pem(value: bytes | str | None, what: str) -> bytes | None:
    if value is None or value == "" or value == b"":
        return None
    if isinstance(value, bytes):
        return value
    if "-----BEGIN" in value:
        return value.encode()
    try:
        with open(value, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError(f"TLS {what}: cannot read {value} ({e.strerror}); pass PEM or a readable file path") from e


def tls_from_env(tls: TLSConfig | bool | None, env: Mapping[str, str] | None = None) -> TLSConfig | None:
    """The TLS settings a client uses: ``tls`` when given (``True``: TLS with
    the system's roots), else from the environment — on when TASKWIRE_TLS_CA
    is set or TASKWIRE_TLS is true, with TASKWIRE_TLS_CERT / TASKWIRE_TLS_KEY
    as the client certificate. None: plaintext."""
    if tls is False:
        return None
    if tls is True:
        return TLSConfig()
    if tls is not None:
        return tls
    e = os.environ if env is None else env
    on = bool(e.get("TASKWIRE_TLS_CA")) or e.get("TASKWIRE_TLS", "").lower() in ("1", "true", "yes", "on")
    if not on:
        return None
    return TLSConfig(ca=e.get("TASKWIRE_TLS_CA") or None, cert=e.get("TASKWIRE_TLS_CERT") or None, key=e.get("TASKWIRE_TLS_KEY") or None)


def channel_credentials(credentials: Any, tls: TLSConfig | bool | None) -> Any:
    """``credentials`` when given, else grpc SSL credentials for ``tls`` (see
    tls_from_env), else None (plaintext)."""
    if credentials is not None:
        return credentials
    cfg = tls_from_env(tls)
    if cfg is None:
        return None
    import grpc

    cert, key = _pem(cfg.cert, "cert"), _pem(cfg.key, "key")
    if (cert is None) != (key is None):
        raise ValueError("TLS: a client certificate needs its key (cert and key, or TASKWIRE_TLS_CERT and TASKWIRE_TLS_KEY)")
    return grpc.ssl_channel_credentials(root_certificates=_pem(cfg.ca, "ca"), private_key=key, certificate_chain=cert)


def resolve_token(token: str | None) -> str | None:
    """``token``, or TASKWIRE_TOKEN when ``token`` is None."""
    return token if token is not None else (os.environ.get(TOKEN_ENV) or None)


def call_metadata(
    token: str | None, metadata: Mapping[str, str] | Sequence[tuple[str, str]] | None
) -> tuple[tuple[str, str], ...]:
    items: list[tuple[str, str]] = []
    if metadata:
        pairs = metadata.items() if isinstance(metadata, Mapping) else metadata
        items.extend((str(k).lower(), str(v)) for k, v in pairs)
    if token:
        items = [(k, v) for k, v in items if k != "authorization"]
        items.append(("authorization", f"Bearer {token}"))
    return tuple(items)


def _ms(name: str, value: int | float | timedelta | None) -> int:
    if value is None:
        return 0
    if isinstance(value, timedelta):
        return int(round(value.total_seconds() * 1000))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of milliseconds, not {type(value).__name__}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite")
        return int(round(value))
    return value


def submit_options(
    *,
    idempotency_key: str | None = None,
    queue: str | None = None,
    priority: int | None = None,
    retry: RetryPolicy | Mapping[str, Any] | types_pb2.RetryPolicy | None = None,
    timeout_ms: int | timedelta | None = None,
    scheduled_at: datetime | None = None,
    delay_ms: int | timedelta | None = None,
    labels: Mapping[str, str] | None = None,
    cache_key: str | None = None,
    cache_ttl_ms: int | timedelta | None = None,
    refresh_cache: bool = False,
    concurrency_key: str | None = None,
    schedule_to_start_timeout_ms: int | timedelta | None = None,
    wait_for: Iterable[Any] | None = None,
    run_if_dependencies_fail: bool = False,
) -> types_pb2.SubmitOptions:
    """Build ``taskwire.v1.SubmitOptions``; ``None`` leaves a field at its broker default.

    Durations are milliseconds (``int``; a ``timedelta`` is converted).
    ``scheduled_at`` is a ``datetime``; a naive one is taken as UTC.
    """
    opts = types_pb2.SubmitOptions(
        idempotency_key=idempotency_key or "",
        queue=queue or "",
        priority=int(priority or 0),
        timeout_ms=_ms("timeout_ms", timeout_ms),
        delay_ms=_ms("delay_ms", delay_ms),
        cache_key=cache_key or "",
        cache_ttl_ms=_ms("cache_ttl_ms", cache_ttl_ms),
        refresh_cache=bool(refresh_cache),
        concurrency_key=concurrency_key or "",
        schedule_to_start_timeout_ms=_ms("schedule_to_start_timeout_ms", schedule_to_start_timeout_ms),
        run_if_dependencies_fail=bool(run_if_dependencies_fail),
    )
    # wait_for takes run ids or anything with an ``id`` (a RunHandle).
    opts.wait_for.extend(d if isinstance(d, str) else str(getattr(d, "id")) for d in (wait_for or ()))
    if retry is not None:
        opts.retry.CopyFrom(RetryPolicy.from_value(retry).to_proto())
    if scheduled_at is not None:
        if not isinstance(scheduled_at, datetime):
            raise TypeError(f"scheduled_at must be a datetime, not {type(scheduled_at).__name__}")
        if scheduled_at.tzinfo is None:
            scheduled_at = scheduled_at.replace(tzinfo=timezone.utc)
        opts.scheduled_at.FromDatetime(scheduled_at)
    if labels:
        for key, value in labels.items():
            opts.labels[str(key)] = str(value)
    return opts


def uuid7(unix_ms: int | None = None) -> uuid.UUID:
    """A version 7 UUID (RFC 9562): the 48-bit big-endian Unix time in
    milliseconds (``unix_ms``, default now), the version (7), the variant
    (``10``) and 74 random bits from ``os.urandom``. UUIDv7s sort by time
    (bytes and strings alike) to the millisecond; within one millisecond
    their order is random. (Python's ``uuid`` module has no ``uuid7`` before
    3.14.)"""
    ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    if not 0 <= ms < 1 << 48:
        raise ValueError(f"unix_ms out of the 48-bit range: {ms}")
    b = bytearray(ms.to_bytes(6, "big") + os.urandom(10))
    b[6] = 0x70 | (b[6] & 0x0F)  # version 7 in the high nibble of byte 6
    b[8] = 0x80 | (b[8] & 0x3F)  # variant 10 in the top two bits of byte 8
    return uuid.UUID(bytes=bytes(b))


def ensure_request_id(request: taskwire_pb2.SubmitRequest, on: bool) -> bool:
    """Give ``request`` a request id (``SubmitRequest.request_id``, a new
    UUIDv7) when ``on`` and it has neither an idempotency key nor a request
    id; True when the id was made here. Called once per logical submit,
    before the first attempt, so every retry carries the same id (the broker
    makes it the run id: a retry finds the run instead of making another)."""
    if not on or request.options.idempotency_key or request.request_id:
        return False
    request.request_id = str(uuid7())
    return True


def retriable_submit(request: taskwire_pb2.SubmitRequest) -> bool:
    """Whether sending ``request`` again cannot create a second run: it
    carries an idempotency key or a request id."""
    return bool(request.options.idempotency_key or request.request_id)


def request_ids_option(request_ids: bool, auto_idempotency_keys: bool | None) -> bool:
    """The clients' ``request_ids`` option, with its deprecated former name
    ``auto_idempotency_keys`` (a DeprecationWarning when given; False from
    either turns request ids off)."""
    if auto_idempotency_keys is None:
        return bool(request_ids)
    warnings.warn(
        "auto_idempotency_keys is deprecated: use request_ids (a Submit without an idempotency key "
        "now carries a request id instead of a random idempotency key)",
        DeprecationWarning,
        stacklevel=3,
    )
    return bool(request_ids) and bool(auto_idempotency_keys)


def submit_request(
    task: str,
    args: Sequence[Any],
    payload: RawPayload | types_pb2.Payload | None,
    options: Mapping[str, Any],
) -> taskwire_pb2.SubmitRequest:
    if not isinstance(task, str):
        raise TypeError(f"task must be a str, not {type(task).__name__}")
    if payload is not None and args:
        raise TypeError("pass either positional args or payload=, not both")
    body = encode_value(payload) if payload is not None else encode_args(args)
    return taskwire_pb2.SubmitRequest(task=task, args=body, options=submit_options(**options))


@dataclass(frozen=True)
class BatchItem:
    """One run of a batch; build it with :func:`call`."""

    request: taskwire_pb2.SubmitRequest


def call(
    task: str, *args: Any, payload: RawPayload | types_pb2.Payload | None = None, **options: Any
) -> BatchItem:
    """Describe one run for ``submit_batch``: ``call("add", 2, 3, queue="math")``.

    Takes the same keyword options as ``Client.submit``.
    """
    return BatchItem(submit_request(task, args, payload, options))


BatchInput = Union[
    BatchItem,
    taskwire_pb2.SubmitRequest,
    "tuple[str, Sequence[Any]]",
    "tuple[str, Sequence[Any], Mapping[str, Any]]",
]


def batch_request(items: Iterable[Any]) -> taskwire_pb2.SubmitBatchRequest:
    reqs: list[taskwire_pb2.SubmitRequest] = []
    for item in items:
        if isinstance(item, BatchItem):
            reqs.append(item.request)
        elif isinstance(item, taskwire_pb2.SubmitRequest):
            reqs.append(item)
        elif isinstance(item, tuple) and len(item) in (2, 3) and isinstance(item[0], str):
            opts = item[2] if len(item) == 3 else {}
            reqs.append(submit_request(item[0], list(item[1]), None, opts))
        else:
            raise TypeError(
                "batch items must be taskwire.call(task, *args, **options), "
                "(task, args) or (task, args, options) tuples"
            )
    return taskwire_pb2.SubmitBatchRequest(runs=reqs)


def states_list(states: Iterable[RunState | int | str] | None) -> list[str]:
    """RunStates as proto enum names (accepted by the generated constructors)."""
    return [RunState.parse(s).proto_name for s in states or ()]


def wait_chunk(remaining: float | None) -> float:
    """Seconds to ask GetStatus to wait for, given the seconds left (None: forever)."""
    if remaining is None:
        return MAX_WAIT_CHUNK
    return max(0.0, min(remaining, MAX_WAIT_CHUNK))


def wait_ms(seconds: float) -> int:
    if seconds <= 0:
        return 0
    return max(1, int(math.ceil(seconds * 1000)))


def check_wait(name: str, wait: float) -> float:
    if wait < 0:
        raise ValueError(f"{name} must be >= 0 seconds")
    return float(wait)


def outcome(run: Run) -> Any:
    """The result of a terminal run, or the matching RunError."""
    if run.state == RunState.COMPLETED:
        return run.result
    if run.state == RunState.FAILED:
        raise RunFailedError(run)
    if run.state == RunState.CANCELLED:
        raise RunCancelledError(run)
    raise AssertionError(f"run {run.id} is not terminal ({run.state!r})")


class RequestIdsAlias:
    """The deprecated ``auto_idempotency_keys`` attribute of both clients, read and written as ``request_ids``."""

    request_ids: bool

    @property
    def auto_idempotency_keys(self) -> bool:
        """Deprecated: the former name of :attr:`request_ids`."""
        return self.request_ids

    @auto_idempotency_keys.setter
    def auto_idempotency_keys(self, on: bool) -> None:
        self.request_ids = on
