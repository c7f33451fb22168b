"""asyncio taskwire client (``grpc.aio``). Same API as :mod:`taskwire.client`, awaitable."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence, TypeVar

import grpc
import grpc.aio

from . import _common
from ._common import BatchInput
from ._retry import DEFAULT_CALL_RETRY, CallRetry, Retryable, next_delay, retry_submit, retry_unavailable
from .client import _MAX_CONSECUTIVE_FAILURES, _backoff
from .errors import RunTimeoutError, UnavailableError, from_rpc_error
from .models import Event, Heartbeat, RetryPolicy, Run, RunPage, RunState
from .payload import RawPayload
from .v1 import taskwire_pb2, taskwire_pb2_grpc, types_pb2

__all__ = ["AsyncClient", "AsyncRunHandle", "AsyncEventStream"]

T = TypeVar("T")


class AsyncClient(_common.RequestIdsAlias):
    """asyncio client; constructor arguments as :class:`taskwire.Client`.

    Create it inside a running event loop; use ``async with`` or ``await close()``.
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
        channel: grpc.aio.Channel | None = None,
        call_retry: CallRetry | None = DEFAULT_CALL_RETRY,
        request_ids: bool = True,
        auto_idempotency_keys: bool | None = None,
    ) -> None:
        if call_retry is not None and not isinstance(call_retry, CallRetry):
            raise TypeError(f"call_retry must be a taskwire.CallRetry or None, not {type(call_retry).__name__}")
        self.address = _common.resolve_address(address)
        self.timeout = timeout
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
                self._channel = grpc.aio.secure_channel(self.address, credentials, options=opts)
            else:
                self._channel = grpc.aio.insecure_channel(self.address, options=opts)
            self._owns_channel = True
        #: The generated stub (async), for calls the idiomatic layer does not cover.
        self.stub = taskwire_pb2_grpc.TaskServiceStub(self._channel)

    @property
    def channel(self) -> grpc.aio.Channel:
        return self._channel

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    async def close(self) -> None:
        if self._owns_channel:
            await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncClient(address={self.address!r})"

    def _deadline(self, rpc_timeout: float | None, extra: float = 0.0) -> float | None:
        t = self.timeout if rpc_timeout is None else rpc_timeout
        return None if t is None else t + extra

    async def _unary(
        self,
        method: Callable[..., Awaitable[T]],
        request: Any,
        timeout: float | None,
        retryable: Retryable | None = None,
    ) -> T:
        """See :meth:`taskwire.Client._unary`."""
        end = None if timeout is None else time.monotonic() + timeout
        attempt = 0
        while True:
            attempt += 1
            remaining = None if end is None else max(0.0, end - time.monotonic())
            began = time.monotonic()
            try:
                return await method(request, timeout=remaining, metadata=self._metadata)
            except grpc.RpcError as err:
                error = from_rpc_error(err)
            error.attempts = attempt
            delay = next_delay(self.call_retry, retryable, error, attempt, end, time.monotonic() - began)
            if delay is None:
                raise error from None
            await asyncio.sleep(delay)

    async def submit(
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
    ) -> AsyncRunHandle:
        """Submit one run; see :meth:`taskwire.Client.submit`."""
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
        resp: taskwire_pb2.SubmitResponse = await self._unary(
            self.stub.Submit, request, self._deadline(rpc_timeout),
            retry_submit if _common.retriable_submit(request) else None,
        )
        # A request id of our own: "deduplicated" can only mean this call's
        # own earlier attempt created the run.
        deduplicated = resp.deduplicated and not generated
        return AsyncRunHandle(self, resp.run.id, run=Run(resp.run), deduplicated=deduplicated)

    async def submit_batch(
        self, items: Iterable[BatchInput], *, rpc_timeout: float | None = None
    ) -> list[AsyncRunHandle]:
        """Submit 1–1000 runs at once; see :meth:`taskwire.Client.submit_batch`."""
        request = _common.batch_request(items)
        resp: taskwire_pb2.SubmitBatchResponse = await self._unary(
            self.stub.SubmitBatch, request, self._deadline(rpc_timeout)
        )
        return [
            AsyncRunHandle(self, r.run.id, run=Run(r.run), deduplicated=r.deduplicated) for r in resp.runs
        ]

    async def get_run(self, run_id: str, *, wait: float = 0, rpc_timeout: float | None = None) -> Run:
        """GetStatus; ``wait`` seconds (broker-side) for a terminal state first."""
        return await self._get_run(run_id, wait, rpc_timeout, retry_unavailable)

    async def _get_run(
        self, run_id: str, wait: float, rpc_timeout: float | None, retryable: Retryable | None
    ) -> Run:
        wait = _common.check_wait("wait", wait)
        request = taskwire_pb2.GetStatusRequest(run_id=run_id, wait_timeout_ms=_common.wait_ms(wait))
        resp: taskwire_pb2.GetStatusResponse = await self._unary(
            self.stub.GetStatus, request, self._deadline(rpc_timeout, wait), retryable
        )
        return Run(resp.run)

    async def wait(self, run_id: str, timeout: float | None = None) -> Run:
        """Wait until the run is terminal; see :meth:`taskwire.Client.wait`."""
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
                run = await self._get_run(run_id, chunk, None, None)
            except UnavailableError:
                failures += 1
                remaining = None if deadline is None else deadline - time.monotonic()
                if failures >= _MAX_CONSECUTIVE_FAILURES or (remaining is not None and remaining <= 0):
                    raise
                pause = _backoff(failures)
                await asyncio.sleep(pause if remaining is None else min(pause, remaining))
                continue
            failures = 0
            last = run
            if run.is_terminal:
                return run
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise RunTimeoutError(run_id, float(timeout or 0), last)
            if time.monotonic() - started < chunk / 2:
                await asyncio.sleep(0.2 if remaining is None else min(0.2, remaining))

    async def result(self, run_id: str, timeout: float | None = None) -> Any:
        """Wait and return the decoded result; see :meth:`taskwire.Client.result`."""
        return _common.outcome(await self.wait(run_id, timeout))

    async def cancel(self, run_id: str, reason: str = "", *, rpc_timeout: float | None = None) -> Run:
        request = taskwire_pb2.CancelRequest(run_id=run_id, reason=reason)
        resp: taskwire_pb2.CancelResponse = await self._unary(
            self.stub.Cancel, request, self._deadline(rpc_timeout), retry_unavailable
        )
        return Run(resp.run)

    async def retry(self, run_id: str, *, rpc_timeout: float | None = None) -> Run:
        """Queue a FAILED or CANCELLED run again; see :meth:`taskwire.Client.retry`."""
        request = taskwire_pb2.RetryRequest(run_id=run_id)
        resp: taskwire_pb2.RetryResponse = await self._unary(
            self.stub.Retry, request, self._deadline(rpc_timeout), retry_unavailable
        )
        return Run(resp.run)

    async def create_schedule(
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
        """See :meth:`taskwire.Client.create_schedule`."""
        run = _common.submit_request(task, args, None, options)
        schedule = taskwire_pb2.Schedule(name=name, cron=cron, timezone=timezone, paused=paused, run=run)
        resp: taskwire_pb2.CreateScheduleResponse = await self._unary(
            self.stub.CreateSchedule, taskwire_pb2.CreateScheduleRequest(schedule=schedule), self._deadline(rpc_timeout)
        )
        return resp.schedule

    async def list_schedules(self, *, rpc_timeout: float | None = None) -> list[taskwire_pb2.Schedule]:
        resp: taskwire_pb2.ListSchedulesResponse = await self._unary(
            self.stub.ListSchedules, taskwire_pb2.ListSchedulesRequest(), self._deadline(rpc_timeout)
        )
        return list(resp.schedules)

    async def pause_schedule(self, name: str, paused: bool = True, *, rpc_timeout: float | None = None) -> taskwire_pb2.Schedule:
        resp: taskwire_pb2.PauseScheduleResponse = await self._unary(
            self.stub.PauseSchedule, taskwire_pb2.PauseScheduleRequest(name=name, paused=paused), self._deadline(rpc_timeout)
        )
        return resp.schedule

    async def resume_schedule(self, name: str, *, rpc_timeout: float | None = None) -> taskwire_pb2.Schedule:
        return await self.pause_schedule(name, False, rpc_timeout=rpc_timeout)

    async def delete_schedule(self, name: str, *, rpc_timeout: float | None = None) -> None:
        await self._unary(self.stub.DeleteSchedule, taskwire_pb2.DeleteScheduleRequest(name=name), self._deadline(rpc_timeout))

    async def list_runs(
        self,
        *,
        task: str | None = None,
        states: Iterable[RunState | int | str] | None = None,
        queue: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        rpc_timeout: float | None = None,
    ) -> RunPage:
        request = taskwire_pb2.ListRunsRequest(
            task=task or "",
            states=_common.states_list(states),
            queue=queue or "",
            page_size=int(page_size or 0),
            page_token=page_token or "",
        )
        resp: taskwire_pb2.ListRunsResponse = await self._unary(
            self.stub.ListRuns, request, self._deadline(rpc_timeout), retry_unavailable
        )
        return RunPage(runs=[Run(r) for r in resp.runs], next_page_token=resp.next_page_token)

    async def iter_runs(
        self,
        *,
        task: str | None = None,
        states: Iterable[RunState | int | str] | None = None,
        queue: str | None = None,
        page_size: int | None = None,
        rpc_timeout: float | None = None,
    ) -> AsyncIterator[Run]:
        states = list(states or ())
        token = ""
        while True:
            page = await self.list_runs(
                task=task, states=states, queue=queue, page_size=page_size,
                page_token=token, rpc_timeout=rpc_timeout,
            )
            for run in page.runs:
                yield run
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
    ) -> AsyncEventStream:
        """Follow run events; ``async for event in client.events(...)``.
        See :meth:`taskwire.Client.events`."""
        request = taskwire_pb2.StreamEventsRequest(
            run_ids=list(run_ids or ()),
            tasks=list(tasks or ()),
            states=_common.states_list(states),
            after_cursor=after_cursor or "",
            heartbeat_interval_ms=int(heartbeat_interval_ms or 0),
            until_terminal=until_terminal,
        )
        return AsyncEventStream(
            self, request, timeout=timeout, reconnect=reconnect, on_heartbeat=on_heartbeat
        )

    def handle(self, run_id: str) -> AsyncRunHandle:
        return AsyncRunHandle(self, run_id)


class AsyncRunHandle:
    """A submitted run (async); see :class:`taskwire.RunHandle`."""

    def __init__(
        self, client: AsyncClient, run_id: str, *, run: Run | None = None, deduplicated: bool = False
    ) -> None:
        self.client = client
        self.id = run_id
        self.run = run
        self.deduplicated = deduplicated

    async def status(self, wait: float = 0, *, rpc_timeout: float | None = None) -> Run:
        return await self.client.get_run(self.id, wait=wait, rpc_timeout=rpc_timeout)

    async def wait(self, timeout: float | None = None) -> Run:
        return await self.client.wait(self.id, timeout)

    async def result(self, timeout: float | None = None) -> Any:
        return await self.client.result(self.id, timeout)

    async def cancel(self, reason: str = "", *, rpc_timeout: float | None = None) -> Run:
        return await self.client.cancel(self.id, reason, rpc_timeout=rpc_timeout)

    def events(
        self,
        after_cursor: str | None = None,
        *,
        until_terminal: bool = True,
        heartbeat_interval_ms: int | None = None,
        timeout: float | None = None,
        reconnect: bool = True,
        on_heartbeat: Callable[[Heartbeat], None] | None = None,
    ) -> AsyncEventStream:
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
        return isinstance(other, AsyncRunHandle) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"AsyncRunHandle(id={self.id!r})"


class AsyncEventStream(AsyncIterator[Event]):
    """Async iterator over StreamEvents that resumes by cursor; see :class:`taskwire.EventStream`."""

    def __init__(
        self,
        client: AsyncClient,
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
        self.cursor: str | None = request.after_cursor or None

    def _open(self) -> None:
        request = taskwire_pb2.StreamEventsRequest()
        request.CopyFrom(self._request)
        if self.cursor:
            request.after_cursor = self.cursor
        timeout = None
        if self._deadline is not None:
            timeout = max(0.0, self._deadline - time.monotonic())
        self._call = self._client.stub.StreamEvents(
            request, timeout=timeout, metadata=self._client.metadata
        )

    def __aiter__(self) -> AsyncEventStream:
        return self

    async def __anext__(self) -> Event:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._call is None:
                self._open()
            try:
                resp = await self._call.read()
            except asyncio.CancelledError:
                # grpc.aio raises CancelledError from read() both when close()
                # cancelled the call (end of stream) and when our task is
                # being cancelled (propagate).
                task = asyncio.current_task()
                cancelling = getattr(task, "cancelling", None)
                if self._closed and not (cancelling is not None and cancelling()):
                    raise StopAsyncIteration from None
                self.close()
                raise
            except grpc.RpcError as err:
                if self._closed:
                    raise StopAsyncIteration from None
                self._call = None
                if self._reconnect and err.code() == grpc.StatusCode.UNAVAILABLE:
                    self._failures += 1
                    if self._failures < _MAX_CONSECUTIVE_FAILURES:
                        await asyncio.sleep(_backoff(self._failures))
                        continue
                self._closed = True
                raise from_rpc_error(err) from None
            if resp is grpc.aio.EOF:
                self._closed = True
                self._call = None
                raise StopAsyncIteration
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

    def close(self) -> None:
        self._closed = True
        call, self._call = self._call, None
        if call is not None:
            call.cancel()

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> AsyncEventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
