"""An in-process fake TaskService: real gRPC on 127.0.0.1:0, scripted behaviour.

Tests drive runs with start()/complete()/fail()/cancel_run() and can inject
errors (fail_next: before the method runs; lose_next: after it ran, so its
answer is lost) and latency (delay) per method.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import grpc
from google.protobuf import timestamp_pb2

from taskwire.v1 import taskwire_pb2, taskwire_pb2_grpc, types_pb2

TASK_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TERMINAL = {types_pb2.RUN_STATE_COMPLETED, types_pb2.RUN_STATE_FAILED, types_pb2.RUN_STATE_CANCELLED}
MAX_PAYLOAD = 1_000_000
SLEEP = object()  # a simulated task result: run until cancelled


class LogThen:
    """A simulated task's outcome: log these lines (LOG events), report progress 1, then complete with result."""

    def __init__(self, lines: list[str], result: Any) -> None:
        self.lines = lines
        self.result = result
T = TypeVar("T")


def _now() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


@dataclass
class Call:
    method: str
    request: Any
    metadata: dict[str, str]
    time_remaining: float | None


@dataclass
class FakeState:
    runs: dict[str, types_pb2.TaskRun] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    events: list[types_pb2.RunEvent] = field(default_factory=list)
    idem: dict[str, str] = field(default_factory=dict)
    # request id -> run id, for request ids that did not become the run id.
    requests: dict[str, str] = field(default_factory=dict)


class FakeBroker(taskwire_pb2_grpc.TaskServiceServicer):
    def __init__(self) -> None:
        self.state = FakeState()
        self.schedules: dict[str, taskwire_pb2.Schedule] = {}
        self.cond = threading.Condition()
        self.calls: list[Call] = []
        # method -> (code, message), or a list of them for the next calls in turn.
        self.fail_next: dict[str, tuple[grpc.StatusCode, str] | list[tuple[grpc.StatusCode, str]]] = {}
        # method -> (code, message): the next call does its work, then fails
        # with this status instead of answering (Submit, Cancel, Retry).
        self.lose_next: dict[str, tuple[grpc.StatusCode, str]] = {}
        self.delay: dict[str, float] = {}
        # StreamEvents: abort the next stream with UNAVAILABLE after sending n events.
        self.drop_stream_after: int | None = None
        # GetStatus ignores wait_timeout_ms (answers at once) when True.
        self.ignore_wait = False
        self.tasks: dict[str, Callable[[list[Any], int], Any]] = {}
        self._cursor = 0
        self.server: grpc.Server | None = None
        self.address = ""

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> FakeBroker:
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        taskwire_pb2_grpc.add_TaskServiceServicer_to_server(self, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.address = f"127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(grace=None)

    # -- helpers -----------------------------------------------------------

    def _enter(self, method: str, request: Any, context: grpc.ServicerContext) -> None:
        self.calls.append(
            Call(method, request, dict(context.invocation_metadata()), context.time_remaining())
        )
        if method in self.delay:
            time.sleep(self.delay[method])
        if method in self.fail_next:
            entry = self.fail_next[method]
            if isinstance(entry, list):
                code, msg = entry.pop(0)
                if not entry:
                    del self.fail_next[method]
            else:
                code, msg = self.fail_next.pop(method)
            context.abort(code, msg)

    def _leave(self, method: str, context: grpc.ServicerContext, response: T) -> T:
        if method in self.lose_next:
            code, msg = self.lose_next.pop(method)
            context.abort(code, msg)
        return response

    def count(self, method: str) -> int:
        return len([c for c in self.calls if c.method == method])

    def last(self, method: str) -> Call:
        return [c for c in self.calls if c.method == method][-1]

    def _emit(self, run: types_pb2.TaskRun, etype: int, log: types_pb2.LogLine | None = None) -> None:
        # caller holds self.cond
        self._cursor += 1
        run.revision = self._cursor
        run.last_event = etype
        run.updated_at.CopyFrom(_now())
        ev = types_pb2.RunEvent(
            cursor=f"{self._cursor:020d}",
            run_id=run.id,
            task=run.task,
            type=etype,
            state=run.state,
            attempt=run.attempt,
            time=_now(),
        )
        ev.run.CopyFrom(run)
        if log is not None:
            ev.log.CopyFrom(log)
        self.state.events.append(ev)
        self.cond.notify_all()

    def _run(self, run_id: str, context: grpc.ServicerContext | None = None) -> types_pb2.TaskRun:
        if context is not None:
            if not UUID_RE.match(run_id):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "run_id: not a run id")
            if run_id not in self.state.runs:
                context.abort(grpc.StatusCode.NOT_FOUND, f"run {run_id} not found")
        return self.state.runs[run_id]

    # -- test controls -----------------------------------------------------

    def start_run(self, run_id: str, worker: str = "w1") -> None:
        with self.cond:
            run = self.state.runs[run_id]
            if run.state in TERMINAL:
                return
            run.state = types_pb2.RUN_STATE_RUNNING
            run.attempt += 1
            run.worker_id = worker
            run.attempts.add(number=run.attempt, worker_id=worker, started_at=_now(),
                             outcome=types_pb2.ATTEMPT_OUTCOME_RUNNING)
            if not run.HasField("started_at"):
                run.started_at.CopyFrom(_now())
            self._emit(run, types_pb2.EVENT_TYPE_STARTED)

    def log(self, run_id: str, message: str) -> None:
        with self.cond:
            run = self.state.runs[run_id]
            line = types_pb2.LogLine(time=_now(), level="info", message=message, attempt=run.attempt)
            run.logs.append(line)
            self._emit(run, types_pb2.EVENT_TYPE_LOG, line)

    def timed_out(self, run_id: str) -> None:
        with self.cond:
            run = self.state.runs[run_id]
            if run.state in TERMINAL:
                return
            run.state = types_pb2.RUN_STATE_FAILED
            run.error.CopyFrom(types_pb2.Failure(type="TimeoutError", message=f"attempt {run.attempt} exceeded its timeout of {run.options.timeout_ms} ms", retryable=True))
            run.attempts[-1].outcome = types_pb2.ATTEMPT_OUTCOME_TIMED_OUT
            run.attempts[-1].error.CopyFrom(run.error)
            run.finished_at.CopyFrom(_now())
            self._emit(run, types_pb2.EVENT_TYPE_TIMED_OUT)

    def complete(self, run_id: str, result: Any) -> None:
        with self.cond:
            run = self.state.runs[run_id]
            if run.state in TERMINAL:
                return
            if run.attempt == 0:
                self.start_run(run_id)  # the condition's lock is an RLock
            run.state = types_pb2.RUN_STATE_COMPLETED
            run.result.CopyFrom(types_pb2.Payload(content_type="application/json",
                                                  data=json.dumps(result).encode()))
            run.attempts[-1].outcome = types_pb2.ATTEMPT_OUTCOME_SUCCEEDED
            run.finished_at.CopyFrom(_now())
            self._emit(run, types_pb2.EVENT_TYPE_COMPLETED)

    def fail(self, run_id: str, type_: str, message: str, stack: str = "") -> None:
        with self.cond:
            run = self.state.runs[run_id]
            if run.state in TERMINAL:
                return
            if run.attempt == 0:
                self.start_run(run_id)  # the condition's lock is an RLock
            run.state = types_pb2.RUN_STATE_FAILED
            run.error.CopyFrom(types_pb2.Failure(type=type_, message=message, stack=stack, retryable=False))
            run.attempts[-1].outcome = types_pb2.ATTEMPT_OUTCOME_FAILED
            run.attempts[-1].error.CopyFrom(run.error)
            run.finished_at.CopyFrom(_now())
            self._emit(run, types_pb2.EVENT_TYPE_FAILED)

    def complete_later(self, run_id: str, result: Any, after: float) -> threading.Timer:
        t = threading.Timer(after, self.complete, args=(run_id, result))
        t.daemon = True
        t.start()
        return t

    # -- simulated worker ----------------------------------------------------

    def serve(self, tasks: dict[str, Callable[[list[Any], int], Any]]) -> None:
        """Execute runs of these tasks in threads: fn(args, attempt) returns the
        result or raises (the exception class name is the failure type);
        retries follow the run's RetryPolicy (delays_ms[0] or initial_delay_ms).
        A result of SLEEP blocks until the run is cancelled."""
        self.tasks = tasks

    def _execute(self, run_id: str) -> None:
        with self.cond:
            run = self.state.runs[run_id]
            fn = self.tasks[run.task]
            args = json.loads(run.args.data or b"[]")
            policy = types_pb2.RetryPolicy()
            policy.CopyFrom(run.options.retry)
        while True:
            time.sleep(0.02)
            with self.cond:
                if run.state in TERMINAL:
                    return
            self.start_run(run_id)
            try:
                result = fn(args if isinstance(args, list) else [args], run.attempt)
            except Exception as err:  # noqa: BLE001
                with self.cond:
                    if run.state in TERMINAL:
                        return
                    if run.attempt <= policy.max_retries:
                        run.state = types_pb2.RUN_STATE_AWAITING_RETRY
                        run.attempts[-1].outcome = types_pb2.ATTEMPT_OUTCOME_FAILED
                        run.attempts[-1].error.CopyFrom(types_pb2.Failure(type=type(err).__name__, message=str(err)))
                        self._emit(run, types_pb2.EVENT_TYPE_RETRY_SCHEDULED)
                        delay = (policy.delays_ms[0] if policy.delays_ms else policy.initial_delay_ms or 1000) / 1000
                    else:
                        delay = None
                if delay is None:
                    self.fail(run_id, type(err).__name__, str(err), "stack")
                    return
                time.sleep(delay)
                continue
            if isinstance(result, LogThen):
                for line in result.lines:
                    self.log(run_id, line)
                with self.cond:
                    run.progress.CopyFrom(types_pb2.Progress(fraction=1.0))
                    self._emit(run, types_pb2.EVENT_TYPE_PROGRESS)
                result = result.result
            if result is SLEEP and run.options.timeout_ms > 0:
                # The run's timeout ends a sleeping attempt: TIMED_OUT, as a worker records it.
                time.sleep(run.options.timeout_ms / 1000)
                self.timed_out(run_id)
                return
            if result is SLEEP:
                with self.cond:
                    while run.state not in TERMINAL:
                        self.cond.wait()
                return
            self.complete(run_id, result)
            return

    # -- TaskService -------------------------------------------------------

    def _submit(self, req: taskwire_pb2.SubmitRequest, context: grpc.ServicerContext) -> taskwire_pb2.SubmitResponse:
        if not TASK_RE.match(req.task):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "task: must be 1-128 of [A-Za-z0-9_-]")
        if len(req.args.data) > MAX_PAYLOAD:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "args: payload over the limit")
        if req.args.content_type in ("", "application/json"):
            try:
                json.loads(req.args.data or b"null")
            except ValueError:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "args: not valid JSON")
        key = req.options.idempotency_key
        if key and key in self.state.idem:
            return taskwire_pb2.SubmitResponse(run=self.state.runs[self.state.idem[key]], deduplicated=True)
        # Like the broker: a request id (ignored with a key) that is a UUIDv7
        # within 60 s of now becomes the run id; any other UUID is kept as a
        # key. Reuse for another task is ALREADY_EXISTS.
        request_id = "" if key else req.request_id.lower()
        if request_id and not UUID_RE.match(request_id):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "request_id: not a UUID")
        earlier = self.state.runs.get(self.state.requests.get(request_id, request_id)) if request_id else None
        if earlier is not None:
            if earlier.task != req.task:
                context.abort(grpc.StatusCode.ALREADY_EXISTS, f"request_id {request_id} was already used for another Submit")
            return taskwire_pb2.SubmitResponse(run=earlier, deduplicated=True)
        run_id = str(uuid.uuid4())
        if request_id:
            rid = uuid.UUID(request_id)
            if rid.version == 7 and abs((rid.int >> 80) - time.time() * 1000) <= 60_000:
                run_id = request_id
            else:
                self.state.requests[request_id] = run_id
        delayed = req.options.delay_ms > 0 or req.options.HasField("scheduled_at")
        run = types_pb2.TaskRun(
            id=run_id,
            task=req.task,
            state=types_pb2.RUN_STATE_SCHEDULED if delayed else types_pb2.RUN_STATE_PENDING,
            args=req.args,
            options=req.options,
            created_at=_now(),
            queue=req.options.queue or "default",
        )
        self.state.runs[run_id] = run
        self.state.order.append(run_id)
        if key:
            self.state.idem[key] = run_id
        self._emit(run, types_pb2.EVENT_TYPE_SUBMITTED)
        if req.task in self.tasks and not delayed:
            threading.Thread(target=self._execute, args=(run_id,), daemon=True).start()
        return taskwire_pb2.SubmitResponse(run=run)

    def Submit(self, request, context):  # noqa: N802
        self._enter("Submit", request, context)
        with self.cond:
            response = self._submit(request, context)
        return self._leave("Submit", context, response)

    def SubmitBatch(self, request, context):  # noqa: N802
        self._enter("SubmitBatch", request, context)
        if not 1 <= len(request.runs) <= 1000:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "runs: 1-1000 items")
        with self.cond:
            for i, item in enumerate(request.runs):
                if not TASK_RE.match(item.task):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"runs[{i}].task: invalid")
            return taskwire_pb2.SubmitBatchResponse(runs=[self._submit(r, context) for r in request.runs])

    def GetStatus(self, request, context):  # noqa: N802
        self._enter("GetStatus", request, context)
        if request.wait_timeout_ms < 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "wait_timeout_ms: must not be negative")
        with self.cond:
            run = self._run(request.run_id, context)
            if request.wait_timeout_ms > 0 and not self.ignore_wait:
                end = time.monotonic() + request.wait_timeout_ms / 1000
                while run.state not in TERMINAL and time.monotonic() < end and context.is_active():
                    self.cond.wait(max(0.0, end - time.monotonic()))
            return taskwire_pb2.GetStatusResponse(run=run)

    def Cancel(self, request, context):  # noqa: N802
        self._enter("Cancel", request, context)
        with self.cond:
            run = self._run(request.run_id, context)
            if run.state == types_pb2.RUN_STATE_CANCELLED:
                return taskwire_pb2.CancelResponse(run=run)
            if run.state in TERMINAL:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"run {run.id} is already finished")
            run.state = types_pb2.RUN_STATE_CANCELLED
            if run.attempts and run.attempts[-1].outcome == types_pb2.ATTEMPT_OUTCOME_RUNNING:
                run.attempts[-1].outcome = types_pb2.ATTEMPT_OUTCOME_CANCELLED
            run.error.CopyFrom(types_pb2.Failure(type="Cancelled", message=request.reason or "cancelled"))
            run.finished_at.CopyFrom(_now())
            self._emit(run, types_pb2.EVENT_TYPE_CANCELLED)
            response = taskwire_pb2.CancelResponse(run=run)
        return self._leave("Cancel", context, response)

    # Schedules: stored only (the fake does not fire them).
    def CreateSchedule(self, request, context):  # noqa: N802
        self._enter("CreateSchedule", request, context)
        with self.cond:
            sched = taskwire_pb2.Schedule()
            sched.CopyFrom(request.schedule)
            sched.timezone = sched.timezone or "UTC"
            self.schedules[sched.name] = sched
            return taskwire_pb2.CreateScheduleResponse(schedule=sched)

    def ListSchedules(self, request, context):  # noqa: N802
        self._enter("ListSchedules", request, context)
        with self.cond:
            return taskwire_pb2.ListSchedulesResponse(schedules=[self.schedules[k] for k in sorted(self.schedules)])

    def PauseSchedule(self, request, context):  # noqa: N802
        self._enter("PauseSchedule", request, context)
        with self.cond:
            sched = self.schedules.get(request.name)
            if sched is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"schedule {request.name} not found")
            sched.paused = request.paused
            return taskwire_pb2.PauseScheduleResponse(schedule=sched)

    def DeleteSchedule(self, request, context):  # noqa: N802
        self._enter("DeleteSchedule", request, context)
        with self.cond:
            if self.schedules.pop(request.name, None) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"schedule {request.name} not found")
            return taskwire_pb2.DeleteScheduleResponse()

    def Retry(self, request, context):  # noqa: N802
        self._enter("Retry", request, context)
        with self.cond:
            run = self._run(request.run_id, context)
            if run.state not in (types_pb2.RUN_STATE_FAILED, types_pb2.RUN_STATE_CANCELLED):
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"run {run.id} is not FAILED or CANCELLED")
            run.state = types_pb2.RUN_STATE_PENDING
            run.ClearField("finished_at")
            self._emit(run, types_pb2.EVENT_TYPE_RESUBMITTED)
            if run.task in self.tasks:
                threading.Thread(target=self._execute, args=(run.id,), daemon=True).start()
            response = taskwire_pb2.RetryResponse(run=run)
        return self._leave("Retry", context, response)

    def ListRuns(self, request, context):  # noqa: N802
        self._enter("ListRuns", request, context)
        size = request.page_size or 50
        if not 0 < size <= 1000:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_size: 1-1000")
        with self.cond:
            runs = [self.state.runs[i] for i in reversed(self.state.order)]
        runs = [
            r for r in runs
            if (not request.task or r.task == request.task)
            and (not request.states or r.state in request.states)
            and (not request.queue or r.queue == request.queue)
        ]
        start = int(request.page_token or 0)
        page = runs[start:start + size]
        token = str(start + size) if start + size < len(runs) else ""
        return taskwire_pb2.ListRunsResponse(runs=page, next_page_token=token)

    def StreamEvents(self, request, context):  # noqa: N802
        self._enter("StreamEvents", request, context)
        after = 0
        if request.after_cursor:
            if not request.after_cursor.isdigit():
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "after_cursor: malformed")
            after = int(request.after_cursor)
        elif not request.run_ids:
            with self.cond:
                after = self._cursor  # new events only
        interval = (request.heartbeat_interval_ms or 15000) / 1000
        ids = set(request.run_ids)
        drop_after, self.drop_stream_after = self.drop_stream_after, None
        sent = 0
        pos = 0
        while context.is_active():
            with self.cond:
                pending = [e for e in self.state.events[pos:] if int(e.cursor) > after]
                pos = len(self.state.events)
                if not pending:
                    done = request.until_terminal and ids and all(
                        self.state.runs[i].state in TERMINAL for i in ids if i in self.state.runs)
                    if done:
                        return
                    if not self.cond.wait(interval):
                        yield taskwire_pb2.StreamEventsResponse(
                            heartbeat=taskwire_pb2.Heartbeat(time=_now(), cursor=f"{self._cursor:020d}"))
                        after = max(after, self._cursor)
                    continue
            for ev in pending:
                after = int(ev.cursor)
                if ids and ev.run_id not in ids:
                    continue
                if request.tasks and ev.task not in request.tasks:
                    continue
                if request.states and ev.state not in request.states:
                    continue
                yield taskwire_pb2.StreamEventsResponse(event=ev)
                sent += 1
                if drop_after is not None and sent >= drop_after:
                    context.abort(grpc.StatusCode.UNAVAILABLE, "stream dropped (test)")
