"""Synchronous taskwire client."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

import grpc

from . import _common
from ._common import BatchInput
from ._retry import DEFAULT_CALL_RETRY, CallRetry, Retryable, next_delay, retry_submit, retry_unavailable
from .errors import RunTimeoutError, UnavailableError, from_rpc_error
from .models import Event, Heartbeat, RetryPolicy, Run, RunPage, RunState
from .payload import RawPayload
from .v1 import taskwire_pb2, taskwire_pb2_grpc, types_pb2

__all__ = ["Client", "RunHandle", "EventStream"]

T = TypeVar("T")

# Reconnect / retry policy of event streams and of wait()'s GetStatus loop
# (single calls follow the client's CallRetry).
_MAX_CONSECUTIVE_FAILURES = 5
_BACKOFF_INITIAL = 0.1
_BACKOFF_MAX = 2.0


def _backoff(failures: int) -> float:
    return float(min(_BACKOFF_MAX, _BACKOFF_INITIAL * 2.0 ** max(0, failures - 1)))


class Client(_common.RequestIdsAlias):
    """A connection to a taskwire broker.

    Args:
        address: ``host:port`` of the broker (any gRPC target). Defaults to the
            ``TASKWIRE_ADDRESS`` environment variable, then ``localhost:50051``.
        credentials: TLS channel credentials (``grpc.ssl_channel_credentials()``);
            wins over ``tls``.
        tls: :class:`TLSConfig` (``ca``, and ``cert``/``key`` for mTLS: PEM or
            file paths) or ``True`` for TLS with the system's roots. Default:
            from the environment — TLS when ``TASKWIRE_TLS_CA`` is set or
            ``TASKWIRE_TLS`` is true, with ``TASKWIRE_TLS_CERT``/``TASKWIRE_TLS_KEY``
            as the client certificate; else plaintext.
        token: bearer token, sent as ``authorization: Bearer <token>`` metadata
            on every call. Default: ``TASKWIRE_TOKEN``.
        timeout: default per-call deadline in seconds (default 10); it bounds
            all attempts of a retried call together. GetStatus waits get this
            plus their wait. ``None`` disables deadlines.
        metadata: extra metadata sent on every call.
        options: extra gRPC channel options, e.g.
            ``[("grpc.max_receive_message_length", 128 << 20)]``.
        channel: use this channel instead of creating one (the client then
            does not close it); ``address``/``credentials``/``options`` are ignored.
        call_retry: how failed calls are retried (:class:`CallRetry`; default
            up to 5 attempts, backoff 0.05 s doubling up to 1 s, ±20 % jitter):
            Submit on UNAVAILABLE and on the broker's retryable ABORTED, with
            the same idempotency key or request id; GetStatus, ListRuns,
            Cancel and Retry on UNAVAILABLE. ``None`` turns retries off.
        request_ids: give every :meth:`submit` without an ``idempotency_key``
            a request id (``SubmitRequest.request_id``, a UUIDv7 made once
            per call and sent again with each of its retries), so it can be
            retried without creating a second run (default True). The
            broker makes it the run id: no extra write while this machine's
            clock is within 60 s of the broker's (one more KV write per
            submit beyond that). With False such submits carry neither and
            are not retried.
        auto_idempotency_keys: deprecated former name of ``request_ids``
            (a DeprecationWarning); False turns request ids off.

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        tls: _common.TLSConfig | bool | None = None,
        token: str | None = None,
        timeout: float | None = _common.DEFAULT_TIMEOUT,
        metadata: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        options: Sequence[tuple[str, Any]] | None = None,
        channel: grpc.Channel | None = None,
        call_retry: CallRetry | None = DEFAULT_CALL_RETRY,
        request_ids: bool = True,
        auto_idempotency_keys: bool | None = None,
    ) -> None:
        if call_retry is not None and not isinstance(call_retry, CallRetry):
            raise TypeError(f"call_retry must be a taskwire.CallRetry or None, not {type(call_retry).__name__}")
        self.address = _common.resolve_address(address)
        self.timeout = timeout
        #: Retries of failed calls (None: off).
        self.call_retry = call_retry
        #: Whether submits without an idempotency key get a request id.
        self.request_ids = _common.request_ids_option(request_ids, auto_idempotency_keys)
        self._metadata = _common.call_metadata(_common.resolve_token(token), metadata)
        if channel is not None:
            self._channel = channel
            self._owns_channel = False
        else:
            opts = _common.channel_options(options)
            credentials = _common.channel_credentials(credentials, tls)
            if credentials is not None:
                self._channel = grpc.secure_channel(self.address, credentials, options=opts)
            else:
                self._channel = grpc.insecure_channel(self.address, options=opts)
            self._owns_channel = True
        #: The generated stub, for calls the idiomatic layer does not cover.
        self.stub = taskwire_pb2_grpc.TaskServiceStub(self._channel)

    # -- lifecycle ---------------------------------------------------------

    @property
    def channel(self) -> grpc.Channel:
        return self._channel

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Metadata sent on every call (includes the authorization header when a token is set)."""
        return self._metadata

    def close(self) -> None:
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(address={self.address!r})"

    # -- plumbing ----------------------------------------------------------

    def _deadline(self, rpc_timeout: float | None, extra: float = 0.0) -> float | None:
        t = self.timeout if rpc_timeout is None else rpc_timeout
        return None if t is None else t + extra

    def _unary(
        self, method: Callable[..., T], request: Any, timeout: float | None, retryable: Retryable | None = None
    ) -> T:
        """One call; with ``retryable``, repeated per ``self.call_retry`` while
        it says the error is transient. ``timeout`` bounds all attempts."""
        end = None if timeout is None else time.monotonic() + timeout
        attempt = 0
        while True:
            attempt += 1
            remaining = None if end is None else max(0.0, end - time.monotonic())
            began = time.monotonic()
            try:
                return method(request, timeout=remaining, metadata=self._metadata)
            except grpc.RpcError as err:
                error = from_rpc_error(err)
            error.attempts = attempt
            delay = next_delay(self.call_retry, retryable, error, attempt, end, time.monotonic() - began)
            if delay is None:
                raise error from None
            time.sleep(delay)

    # -- API -----------------------------------------------------------------

    def submit(
        self,
        task: str,
        *args: Any,
        payload: RawPayload | types_pb2.Payload | None = None,
        idempotency_key: str | None = None,
        queue: str | None = None,
        priority: int | None = None,
        retry: RetryPolicy | Mapping[str, Any] | None = None,
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
        rpc_timeout: float | None = None,
    ) -> RunHandle:
        """Submit one run of ``task`` with positional ``args`` (JSON-encoded).

        Returns at once with a :class:`RunHandle` (the run is PENDING, or
        SCHEDULED when due later). See the README for every option; durations
        ending in ``_ms`` are milliseconds. ``payload`` sends raw bytes
        instead of JSON args. ``rpc_timeout`` overrides the client's deadline.

        Without ``idempotency_key`` the request carries a request id (a
        UUIDv7 made for this call, unless ``request_ids=False``); transient
        failures are retried with the same key or request id (see
        ``call_retry``), so one call creates at most one run.
        """
        request = _common.submit_request(
            task,
            args,
            payload,
            dict(
                idempotency_key=idempotency_key,
                queue=queue,
                priority=priority,
                retry=retry,
                timeout_ms=timeout_ms,
                scheduled_at=scheduled_at,
                delay_ms=delay_ms,
                labels=labels,
                cache_key=cache_key,
                cache_ttl_ms=cache_ttl_ms,
                refresh_cache=refresh_cache,
                concurrency_key=concurrency_key,
                schedule_to_start_timeout_ms=schedule_to_start_timeout_ms,
                wait_for=wait_for,
                run_if_dependencies_fail=run_if_dependencies_fail,
            ),
        )
        # Set once, before the first attempt: every retry carries the same id.
        generated = _common.ensure_request_id(request, self.request_ids)
        resp: taskwire_pb2.SubmitResponse = self._unary(
            self.stub.Submit, request, self._deadline(rpc_timeout),
            retry_submit if _common.retriable_submit(request) else None,
        )
        # A request id of our own is this call's: a deduplicated answer means
        # an earlier attempt of this call created the run, not another submit.
        deduplicated = resp.deduplicated and not generated
        return RunHandle(self, resp.run.id, run=Run(resp.run), deduplicated=deduplicated)

    def submit_batch(
        self, items: Iterable[BatchInput], *, rpc_timeout: float | None = None
    ) -> list[RunHandle]:
        """Submit 1–1000 runs at once (all or nothing); handles come back in item order.

        Items are ``taskwire.call(task, *args, **options)``, ``(task, args)`` or
        ``(task, args, options)`` tuples.
        """
        request = _common.batch_request(items)
        resp: taskwire_pb2.SubmitBatchResponse = self._unary(
            self.stub.SubmitBatch, request, self._deadline(rpc_timeout)
        )
        return [RunHandle(self, r.run.id, run=Run(r.run), deduplicated=r.deduplicated) for r in resp.runs]

    def get_run(self, run_id: str, *, wait: float = 0, rpc_timeout: float | None = None) -> Run:
        """GetStatus: the run's record. With ``wait`` > 0 (seconds, at most 300) the
        broker first waits until the run is terminal or the wait elapses."""
        return self._get_run(run_id, wait, rpc_timeout, retry_unavailable)

    def _get_run(self, run_id: str, wait: float, rpc_timeout: float | None, retryable: Retryable | None) -> Run:
        wait = _common.check_wait("wait", wait)
        request = taskwire_pb2.GetStatusRequest(run_id=run_id, wait_timeout_ms=_common.wait_ms(wait))
        resp: taskwire_pb2.GetStatusResponse = self._unary(
            self.stub.GetStatus, request, self._deadline(rpc_timeout, wait), retryable
        )
        return Run(resp.run)

    def wait(self, run_id: str, timeout: float | None = None) -> Run:
        """Block until the run is terminal and return its record (whatever the outcome).

        ``timeout`` in seconds (None: forever); raises :class:`RunTimeoutError`
        when it elapses. Transient UNAVAILABLE errors are retried by this loop
        (up to 5 in a row, backoff 0.1 s doubling up to 2 s), whatever
        ``call_retry`` says.
        """
        if timeout is not None:
            _common.check_wait("timeout", timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        failures = 0
        last: Run | None = None
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            chunk = _common.wait_chunk(remaining)
            started = time.monotonic()
            try:
                # No per-call retries inside: this loop retries UNAVAILABLE itself.
                run = self._get_run(run_id, chunk, None, None)
            except UnavailableError:
                failures += 1
                remaining = None if deadline is None else deadline - time.monotonic()
                if failures >= _MAX_CONSECUTIVE_FAILURES or (remaining is not None and remaining <= 0):
                    raise
                pause = _backoff(failures)
                time.sleep(pause if remaining is None else min(pause, remaining))
                continue
            failures = 0
            last = run
            if run.is_terminal:
                return run
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise RunTimeoutError(run_id, float(timeout or 0), last)
            # A broker that answers before the wait elapsed (it should not):
            # do not spin.
            if time.monotonic() - started < chunk / 2:
                pause = 0.2 if remaining is None else min(0.2, remaining)
                time.sleep(pause)

    def result(self, run_id: str, timeout: float | None = None) -> Any:
        """Wait for the run and return its decoded result.

        Raises :class:`RunFailedError` / :class:`RunCancelledError` when the run
        did not complete, :class:`RunTimeoutError` when ``timeout`` (seconds) elapses.
        """
        return _common.outcome(self.wait(run_id, timeout))

    def cancel(self, run_id: str, reason: str = "", *, rpc_timeout: float | None = None) -> Run:
        """Cancel a run; returns its record. Cancelling a cancelled run is a no-op;
        a completed or failed one raises :class:`FailedPreconditionError`."""
        request = taskwire_pb2.CancelRequest(run_id=run_id, reason=reason)
        resp: taskwire_pb2.CancelResponse = self._unary(
            self.stub.Cancel, request, self._deadline(rpc_timeout), retry_unavailable
        )
        return Run(resp.run)

    def retry(self, run_id: str, *, rpc_timeout: float | None = None) -> Run:
        """Queue a FAILED or CANCELLED run again as a new attempt of the same run
        (same id, history kept; one attempt). Dead letters are
        ``list_runs(states=[RunState.FAILED])``. Other states raise
        :class:`FailedPreconditionError`."""
        request = taskwire_pb2.RetryRequest(run_id=run_id)
        resp: taskwire_pb2.RetryResponse = self._unary(
            self.stub.Retry, request, self._deadline(rpc_timeout), retry_unavailable
        )
        return Run(resp.run)

    # -- cron schedules ----------------------------------------------------

    def create_schedule(
        self,
        name: str,
        cron: str,
        task: str,
        *args: Any,
        timezone: str = "UTC",
        paused: bool = False,
        rpc_timeout: float | None = None,
        **options: Any,
    ) -> taskwire_pb2.Schedule:
        """Create or replace the cron schedule ``name``: at every time matching
        ``cron`` (5 fields, or 6 with seconds first) in ``timezone``, submit a
        run of ``task`` with ``args`` and the submit ``options`` (as for
        :meth:`submit`). Each fire submits exactly one run, whatever the number
        of brokers."""
        run = _common.submit_request(task, args, None, options)
        schedule = taskwire_pb2.Schedule(name=name, cron=cron, timezone=timezone, paused=paused, run=run)
        resp: taskwire_pb2.CreateScheduleResponse = self._unary(
            self.stub.CreateSchedule, taskwire_pb2.CreateScheduleRequest(schedule=schedule), self._deadline(rpc_timeout)
        )
        return resp.schedule

    def list_schedules(self, *, rpc_timeout: float | None = None) -> list[taskwire_pb2.Schedule]:
        resp: taskwire_pb2.ListSchedulesResponse = self._unary(
            self.stub.ListSchedules, taskwire_pb2.ListSchedulesRequest(), self._deadline(rpc_timeout)
        )
        return list(resp.schedules)

    def pause_schedule(self, name: str, paused: bool = True, *, rpc_timeout: float | None = None) -> taskwire_pb2.Schedule:
        """Pause (or with ``paused=False`` resume) a schedule."""
        resp: taskwire_pb2.PauseScheduleResponse = self._unary(
            self.stub.PauseSchedule, taskwire_pb2.PauseScheduleRequest(name=name, paused=paused), self._deadline(rpc_timeout)
        )
        return resp.schedule

    def resume_schedule(self, name: str, *, rpc_timeout: float | None = None) -> taskwire_pb2.Schedule:
        return self.pause_schedule(name, False, rpc_timeout=rpc_timeout)

    def delete_schedule(self, name: str, *, rpc_timeout: float | None = None) -> None:
        self._unary(self.stub.DeleteSchedule, taskwire_pb2.DeleteScheduleRequest(name=name), self._deadline(rpc_timeout))

    def list_runs(
        self,
        *,
        task: str | None = None,
        states: Iterable[RunState | int | str] | None = None,
        queue: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        rpc_timeout: float | None = None,
    ) -> RunPage:
        """One page of runs, newest first. ``page_size`` 1–1000 (default 50);
        pass ``page.next_page_token`` as ``page_token`` for the next page."""
        request = taskwire_pb2.ListRunsRequest(
            task=task or "",
            states=_common.states_list(states),
            queue=queue or "",
            page_size=int(page_size or 0),
            page_token=page_token or "",
        )
        resp: taskwire_pb2.ListRunsResponse = self._unary(
            self.stub.ListRuns, request, self._deadline(rpc_timeout), retry_unavailable
        )
        return RunPage(runs=[Run(r) for r in resp.runs], next_page_token=resp.next_page_token)

    def iter_runs(
        self,
        *,
        task: str | None = None,
        states: Iterable[RunState | int | str] | None = None,
        queue: str | None = None,
        page_size: int | None = None,
        rpc_timeout: float | None = None,
    ) -> Iterator[Run]:
        """Every matching run, newest first, fetching pages as needed."""
        states = list(states or ())
        token = ""
        while True:
            page = self.list_runs(
                task=task, states=states, queue=queue, page_size=page_size,
                page_token=token, rpc_timeout=rpc_timeout,
            )
            yield from page.runs
            token = page.next_page_token
            if not token:
                return

    def events(
        self,
        *,
        run_ids: Iterable[str] | None = None,
        tasks: Iterable[str] | None = None,
        states: Iterable[RunState | int | str] | None = None,
        after_cursor: str | None = None,
        until_terminal: bool = False,
        heartbeat_interval_ms: int | None = None,
        timeout: float | None = None,
        reconnect: bool = True,
        on_heartbeat: Callable[[Heartbeat], None] | None = None,
    ) -> EventStream:
        """Follow run events (StreamEvents). Returns an iterator of :class:`Event`.

        Filters: ``run_ids``, ``tasks``, ``states``. With run ids and no
        ``after_cursor`` the stream starts with each run's full history;
        without both it starts with new events only. ``until_terminal`` closes
        the stream once every named run is terminal. ``timeout`` (seconds,
        default None: no deadline, the stream is long-lived) bounds the whole
        stream. With ``reconnect`` (default) a dropped stream (UNAVAILABLE) is
        reopened after the last cursor seen (``stream.cursor``), so no event is
        lost or repeated. ``on_heartbeat`` is called with each :class:`Heartbeat`
        (idle-stream keepalive carrying the broker's scan cursor).
        """
        request = taskwire_pb2.StreamEventsRequest(
            run_ids=list(run_ids or ()),
            tasks=list(tasks or ()),
            states=_common.states_list(states),
            after_cursor=after_cursor or "",
            heartbeat_interval_ms=int(heartbeat_interval_ms or 0),
            until_terminal=until_terminal,
        )
        return EventStream(
            self, request, timeout=timeout, reconnect=reconnect, on_heartbeat=on_heartbeat
        )

    def handle(self, run_id: str) -> RunHandle:
        """A handle for an existing run id (no call is made)."""
        return RunHandle(self, run_id)


class RunHandle:
    """A submitted run. ``run`` is the record returned by Submit (None for
    :meth:`Client.handle`); ``deduplicated`` is True when an earlier submit with
    the same idempotency key (or request id) created the run (never with a
    request id the client made: only an earlier attempt of the same call can
    have used it)."""

    def __init__(
        self, client: Client, run_id: str, *, run: Run | None = None, deduplicated: bool = False
    ) -> None:
        self.client = client
        self.id = run_id
        self.run = run
        self.deduplicated = deduplicated

    def status(self, wait: float = 0, *, rpc_timeout: float | None = None) -> Run:
        """The current record; ``wait`` > 0 seconds waits (broker-side) for a terminal state first."""
        return self.client.get_run(self.id, wait=wait, rpc_timeout=rpc_timeout)

    def wait(self, timeout: float | None = None) -> Run:
        """Block until terminal and return the record (no exception for FAILED/CANCELLED)."""
        return self.client.wait(self.id, timeout)

    def result(self, timeout: float | None = None) -> Any:
        """Block until terminal; return the decoded result or raise
        RunFailedError / RunCancelledError / RunTimeoutError."""
        return self.client.result(self.id, timeout)

    def cancel(self, reason: str = "", *, rpc_timeout: float | None = None) -> Run:
        return self.client.cancel(self.id, reason, rpc_timeout=rpc_timeout)

    def events(
        self,
        after_cursor: str | None = None,
        *,
        until_terminal: bool = True,
        heartbeat_interval_ms: int | None = None,
        timeout: float | None = None,
        reconnect: bool = True,
        on_heartbeat: Callable[[Heartbeat], None] | None = None,
    ) -> EventStream:
        """This run's events: the full history (or those after ``after_cursor``),
        then live ones, ending when the run is terminal (``until_terminal``).
        Keep ``event.cursor`` to resume later with ``events(after_cursor=...)``."""
        return self.client.events(
            run_ids=[self.id],
            after_cursor=after_cursor,
            until_terminal=until_terminal,
            heartbeat_interval_ms=heartbeat_interval_ms,
            timeout=timeout,
            reconnect=reconnect,
            on_heartbeat=on_heartbeat,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunHandle) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"RunHandle(id={self.id!r})"


class EventStream(Iterator[Event]):
    """Iterator over a StreamEvents call that resumes by cursor on disconnects.

    ``cursor`` is the last cursor seen (event or heartbeat): pass it as
    ``after_cursor`` to continue elsewhere. ``close()`` (or leaving a ``with``
    block) cancels the call.
    """

    def __init__(
        self,
        client: Client,
        request: taskwire_pb2.StreamEventsRequest,
        *,
        timeout: float | None,
        reconnect: bool,
        on_heartbeat: Callable[[Heartbeat], None] | None,
    ) -> None:
        self._client = client
        self._request = request
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._reconnect = reconnect
        self._on_heartbeat = on_heartbeat
        self._call: Any = None
        self._closed = False
        self._failures = 0
        self._lock = threading.Lock()
        self.cursor: str | None = request.after_cursor or None

    def _open(self) -> None:
        request = taskwire_pb2.StreamEventsRequest()
        request.CopyFrom(self._request)
        if self.cursor:
            request.after_cursor = self.cursor
        timeout = None
        if self._deadline is not None:
            timeout = max(0.0, self._deadline - time.monotonic())
        with self._lock:
            if self._closed:
                raise StopIteration
            self._call = self._client.stub.StreamEvents(
                request, timeout=timeout, metadata=self._client.metadata
            )

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> Event:
        while True:
            if self._closed:
                raise StopIteration
            if self._call is None:
                self._open()
            try:
                resp: taskwire_pb2.StreamEventsResponse = next(self._call)
            except StopIteration:
                self._closed = True
                raise
            except grpc.RpcError as err:
                if self._closed:
                    raise StopIteration from None
                self._call = None
                if self._reconnect and err.code() == grpc.StatusCode.UNAVAILABLE:
                    self._failures += 1
                    if self._failures < _MAX_CONSECUTIVE_FAILURES:
                        time.sleep(_backoff(self._failures))
                        continue
                self._closed = True
                raise from_rpc_error(err) from None
            self._failures = 0
            kind = resp.WhichOneof("kind")
            if kind == "event":
                if resp.event.cursor:
                    self.cursor = resp.event.cursor
                return Event.from_proto(resp.event)
            if kind == "heartbeat":
                hb = resp.heartbeat
                if hb.cursor:
                    self.cursor = hb.cursor
                if self._on_heartbeat is not None:
                    self._on_heartbeat(Heartbeat(
                        time=hb.time.ToDatetime(tzinfo=timezone.utc) if hb.HasField("time") else None,
                        cursor=hb.cursor,
                    ))
            # unknown kinds (a newer broker) are skipped

    def close(self) -> None:
        with self._lock:
            self._closed = True
            call = self._call
        if call is not None:
            call.cancel()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
