"""Python workers: execute taskwire runs through the broker's WorkerService.

A worker needs nothing but the broker's address: it opens one gRPC stream
(``taskwire.v1.WorkerService/Connect``, proto/taskwire/v1/worker.proto),
announces its tasks and concurrency, and the broker hands it runs, keeps
them alive in NATS and records what it reports — with the same guarantees as
the TypeScript worker (claims and outcomes by compare-and-set, a lost worker's
runs back in play within 2 × the heartbeat, exactly-once recorded outcomes).

From the command line::

    python -m taskwire worker myapp.tasks other_tasks.py --concurrency 8

From code::

    import taskwire
    from myapp import tasks

    taskwire.serve(tasks, concurrency=8)          # blocks; SIGTERM/SIGINT stop it gracefully

    # or, inside an event loop:
    worker = taskwire.Worker(taskwire.load_tasks([tasks]))
    await worker.run()
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import importlib.util
import logging
import os
import random
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import ModuleType
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

import grpc
import grpc.aio

from . import _common
from . import payload as _payload
from ._isolation import ProcessAttempt, module_ref, run_in_process
from .context import TaskContext, TaskLogger, _set_current
from .errors import TaskwireError
from .task import NonRetryableError, RetryAfterError, Task
from .v1 import types_pb2, worker_pb2, worker_pb2_grpc

__all__ = ["Worker", "serve", "serve_async", "load_tasks", "WorkerError"]

log = logging.getLogger("taskwire.worker")

SDK = "taskwire-python/0.1.0"
#: How long a cancelled or timed-out attempt may take to stop before it is reported anyway, in seconds (the TS worker's grace).
ABORT_GRACE = 2.0
#: Reconnect backoff: first and largest pause, in seconds.
RECONNECT_DELAY = (0.1, 5.0)
#: Codes a worker cannot fix by reconnecting: its configuration is wrong.
_FATAL = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNIMPLEMENTED}

TaskSource = Union[Task[Any], ModuleType, str]


class WorkerError(TaskwireError):
    """The worker cannot serve: the broker refused its hello or its credentials, or its tasks are invalid."""


def _env_int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValueError(f"{name}={raw}: expected a whole number from {low} to {high}")
    return int(raw)


def _import_module(spec: str) -> ModuleType:
    """A module by dotted name, or a ``.py`` file by path (its directory joins sys.path, like ``python file.py``)."""
    if spec.endswith(".py") or os.sep in spec:
        path = os.path.abspath(spec)
        if not os.path.isfile(path):
            raise WorkerError(f"task module {spec!r}: no such file")
        name = os.path.splitext(os.path.basename(path))[0]
        directory = os.path.dirname(path)
        if directory not in sys.path:
            sys.path.insert(0, directory)
        existing = sys.modules.get(name)
        if existing is not None and os.path.abspath(getattr(existing, "__file__", "") or "") == path:
            return existing
        file_spec = importlib.util.spec_from_file_location(name, path)
        if file_spec is None or file_spec.loader is None:
            raise WorkerError(f"task module {spec!r}: cannot load it")
        mod = importlib.util.module_from_spec(file_spec)
        sys.modules[name] = mod
        file_spec.loader.exec_module(mod)
        return mod
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    return importlib.import_module(spec)


def load_tasks(sources: Iterable[TaskSource]) -> list[Task[Any]]:
    """Every task of ``sources``: Task objects, modules, or module names / ``.py`` paths.

    A module contributes every :class:`Task` defined at its top level. Two
    different tasks with one name are an error.
    """
    found: dict[str, Task[Any]] = {}
    for src in sources:
        if isinstance(src, Task):
            tasks: list[Task[Any]] = [src]
            where = "the list"
        else:
            mod = _import_module(src) if isinstance(src, str) else src
            if not isinstance(mod, ModuleType):
                raise TypeError(f"expected a Task, a module or a module name, not {type(src).__name__}")
            tasks = [v for v in vars(mod).values() if isinstance(v, Task)]
            where = f"module {mod.__name__}"
            if not tasks:
                raise WorkerError(f"{where} defines no tasks: decorate functions with @taskwire.task(name=...)")
        for t in tasks:
            other = found.get(t.name)
            if other is not None and other is not t:
                raise WorkerError(f'task "{t.name}" is defined twice (again in {where})')
            found[t.name] = t
    return list(found.values())


@dataclass
class _Attempt:
    """One assigned attempt, from assignment to the report of its end."""

    a: worker_pb2.RunAssignment
    task: Task[Any]
    ctx: TaskContext
    #: Set once the attempt is aborted: ("timeout" | "cancel", reason).
    abort: tuple[str, str] | None = None
    #: Done ABORT_GRACE after an abort: the attempt is reported even if its function goes on.
    gave_up: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    inner: asyncio.Future[Any] | None = None
    process: ProcessAttempt | None = None
    timer: asyncio.TimerHandle | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.a.run_id, self.a.attempt)


class _StreamLost(Exception):
    """The stream ended or stalled; reconnect."""


@dataclass
class _Session:
    call: Any
    out: asyncio.Queue[worker_pb2.ConnectRequest | None] = field(default_factory=asyncio.Queue)
    interval: float = 2.5
    last_heard: float = field(default_factory=time.monotonic)
    max_result_bytes: int = 3 * 1024 * 1024
    welcomed: bool = False


class Worker:
    """Executes runs of ``tasks`` through the broker's WorkerService.

    Args:
        tasks: the tasks it serves (:func:`load_tasks` makes them from modules).
        address: the broker (``host:port``); default ``TASKWIRE_ADDRESS``, then ``localhost:50051``.
        concurrency: attempts executed at once; default ``TASKWIRE_CONCURRENCY`` or 10.
        queues: queues served; default ``TASKWIRE_QUEUES`` (comma separated) or ``["default"]``.
        worker_id: recorded on attempts; default ``<host>-<pid>-<random>``.
        token: bearer token (scope ``workers``); default ``TASKWIRE_TOKEN``.
        tls: :class:`taskwire.TLSConfig` (``ca``, ``cert``/``key`` for mTLS), ``True`` for the
            system roots; default from ``TASKWIRE_TLS_CA`` / ``_CERT`` / ``_KEY`` (as the client).
        credentials: gRPC channel credentials; win over ``tls``.
        shutdown_grace: on stop, seconds in-flight attempts may finish before they are cancelled;
            default ``TASKWIRE_SHUTDOWN_GRACE_MS`` or 30 s.
        metadata: extra gRPC metadata.
        channel_options: extra gRPC channel options.
    """

    def __init__(
        self,
        tasks: Iterable[Task[Any]],
        *,
        address: str | None = None,
        concurrency: int | None = None,
        queues: Sequence[str] | None = None,
        worker_id: str | None = None,
        token: str | None = None,
        tls: _common.TLSConfig | bool | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        shutdown_grace: float | None = None,
        metadata: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        channel_options: Sequence[tuple[str, Any]] | None = None,
    ) -> None:
        self.tasks: dict[str, Task[Any]] = {}
        for t in tasks:
            if not isinstance(t, Task):
                raise TypeError(f"not a task: {t!r}; make tasks with @taskwire.task(name=...)")
            if t.name in self.tasks and self.tasks[t.name] is not t:
                raise WorkerError(f'task "{t.name}" is given twice')
            self.tasks[t.name] = t
        if not self.tasks:
            raise WorkerError("a worker needs at least one task: decorate functions with @taskwire.task(name=...)")
        self.address = _common.resolve_address(address)
        self.concurrency = concurrency if concurrency is not None else _env_int("TASKWIRE_CONCURRENCY", 10, 1, 10_000)
        if not isinstance(self.concurrency, int) or not 1 <= self.concurrency <= 10_000:
            raise ValueError(f"concurrency must be 1–10000, got {self.concurrency!r}")
        env_queues = [q.strip() for q in os.environ.get("TASKWIRE_QUEUES", "").split(",") if q.strip()]
        self.queues = list(queues or env_queues or ["default"])
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{random.getrandbits(16):04x}"
        self.shutdown_grace = shutdown_grace if shutdown_grace is not None else _env_int("TASKWIRE_SHUTDOWN_GRACE_MS", 30_000, 0, 86_400_000) / 1000
        self._token = _common.resolve_token(token)
        self._credentials = _common.channel_credentials(credentials, tls)
        self._metadata = _common.call_metadata(self._token, metadata)
        self._channel_options = _common.channel_options(channel_options)
        self._attempts: dict[str, _Attempt] = {}
        #: Outcomes not yet handed to a stream (sent after the next welcome).
        self._unsent: dict[str, worker_pb2.AttemptFinished] = {}
        self._session: _Session | None = None
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running_tasks: set[asyncio.Task[Any]] = set()
        #: Counters: attempts started and reported.
        self.started = 0
        self.finished = 0

    # -- public ------------------------------------------------------------

    def stop(self) -> None:
        """Stop gracefully (from any thread): no new runs; in-flight ones get ``shutdown_grace``."""
        loop, ev = self._loop, self._stopping
        if loop is None or ev is None:
            return
        if threading.current_thread() is threading.main_thread() and _running_loop() is loop:
            ev.set()
        else:
            loop.call_soon_threadsafe(ev.set)

    async def run(self, *, handle_signals: bool = False) -> None:
        """Serve until :meth:`stop` (or SIGTERM/SIGINT with ``handle_signals``); reconnects on a dropped stream.

        Raises :class:`WorkerError` when the broker refuses the worker
        (invalid hello, bad token, missing scope).
        """
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._loop.add_signal_handler(sig, self._on_signal, sig)
        if self._credentials is not None:
            channel = grpc.aio.secure_channel(self.address, self._credentials, options=self._channel_options)
        else:
            channel = grpc.aio.insecure_channel(self.address, options=self._channel_options)
        stub = worker_pb2_grpc.WorkerServiceStub(channel)
        log.info("taskwire worker %s serving %s on %s (concurrency %d)", self.worker_id, ", ".join(self.tasks), self.address, self.concurrency)
        pause = RECONNECT_DELAY[0]
        try:
            while True:
                connected_at = time.monotonic()
                try:
                    done = await self._serve_stream(stub)
                    if done:
                        break
                except grpc.aio.AioRpcError as err:
                    code = err.code()
                    if code in _FATAL:
                        raise WorkerError(f"the broker refused the worker: {code.name}: {err.details()}", code=code) from None
                    log.warning("worker stream ended (%s: %s); reconnecting", code.name, err.details())
                except _StreamLost as err:
                    log.warning("worker stream lost (%s); reconnecting", err)
                if self._stopping.is_set() and not self._attempts and not self._unsent:
                    break
                if time.monotonic() - connected_at > 10:
                    pause = RECONNECT_DELAY[0]
                await self._sleep_or_stop(pause * (0.8 + 0.4 * random.random()))
                pause = min(pause * 2, RECONNECT_DELAY[1])
                if self._stopping.is_set() and not self._attempts and not self._unsent:
                    break
        finally:
            for t in list(self._running_tasks):
                t.cancel()
            await channel.close()
            if handle_signals and self._loop is not None:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    self._loop.remove_signal_handler(sig)
            log.info("taskwire worker %s stopped (%d attempts started, %d reported)", self.worker_id, self.started, self.finished)

    # -- the stream ------------------------------------------------------------

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info("%s received: stopping (in-flight runs get %.1f s)", sig.name, self.shutdown_grace)
        assert self._stopping is not None
        self._stopping.set()

    async def _sleep_or_stop(self, seconds: float) -> None:
        assert self._stopping is not None
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    def _hello(self) -> worker_pb2.ConnectRequest:
        running = [worker_pb2.HeldRun(run_id=a.a.run_id, attempt=a.a.attempt) for a in self._attempts.values()]
        running += [worker_pb2.HeldRun(run_id=f.run_id, attempt=f.attempt) for f in self._unsent.values() if f.run_id not in self._attempts]
        return worker_pb2.ConnectRequest(
            hello=worker_pb2.WorkerHello(
                worker_id=self.worker_id,
                tasks=[t.to_proto() for t in self.tasks.values()],
                queues=self.queues,
                concurrency=self.concurrency,
                sdk=SDK,
                running=running[: self.concurrency],
            )
        )

    async def _serve_stream(self, stub: worker_pb2_grpc.WorkerServiceStub) -> bool:
        """One Connect stream; True when the worker stopped for good."""
        assert self._stopping is not None
        call = stub.Connect(metadata=self._metadata)
        session = _Session(call)
        self._session = session
        await call.write(self._hello())
        writer = asyncio.ensure_future(self._write_loop(session))
        # A failed write means the stream broke; the reader sees it too.
        writer.add_done_callback(_consume)
        reader = asyncio.ensure_future(self._read_loop(session))
        watch = asyncio.ensure_future(self._watch(session))
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            done, _ = await asyncio.wait({reader, watch, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if stopper in done and not reader.done():
                await self._drain(session)
                # Wait for the broker to end the stream after our half-close (bounded).
                try:
                    await asyncio.wait_for(asyncio.shield(reader), 5.0)
                except (asyncio.TimeoutError, grpc.aio.AioRpcError):
                    pass
                return True
            if watch in done:
                watch.result()
            reader.result()
            raise _StreamLost("the broker closed the stream")
        finally:
            self._session = None
            for t in (writer, reader, watch, stopper):
                if not t.done():
                    t.cancel()
            call.cancel()

    async def _write_loop(self, s: _Session) -> None:
        while True:
            req = await s.out.get()
            if req is None:
                await s.call.done_writing()
                return
            await s.call.write(req)

    async def _read_loop(self, s: _Session) -> None:
        async for res in s.call:
            s.last_heard = time.monotonic()
            kind = res.WhichOneof("kind")
            if kind == "welcome":
                self._welcomed(s, res.welcome)
            elif kind == "assignment":
                self._assigned(res.assignment)
            elif kind == "cancel":
                c = res.cancel
                att = self._attempts.get(c.run_id)
                if att is not None and att.a.attempt == c.attempt:
                    self._abort(att, "cancel", c.reason or "cancelled")

    def _welcomed(self, s: _Session, w: worker_pb2.WorkerWelcome) -> None:
        s.welcomed = True
        s.interval = max(0.05, w.heartbeat_interval_ms / 1000)
        s.max_result_bytes = w.max_result_bytes or s.max_result_bytes
        if w.worker_id:
            self.worker_id = w.worker_id
        log.info("connected to %s as %s", self.address, self.worker_id)
        for f in list(self._unsent.values()):
            s.out.put_nowait(worker_pb2.ConnectRequest(finished=f))
        self._unsent.clear()

    async def _watch(self, s: _Session) -> None:
        """Heartbeats; a stream that has been silent for 6 intervals is given up (it stalled, or the broker is gone)."""
        while True:
            await asyncio.sleep(s.interval if s.welcomed else 0.05)
            if not s.welcomed:
                if time.monotonic() - s.last_heard > 10:
                    raise _StreamLost("no welcome within 10 s")
                continue
            if time.monotonic() - s.last_heard > 6 * s.interval:
                raise _StreamLost(f"nothing from the broker for {time.monotonic() - s.last_heard:.1f} s")
            held = [worker_pb2.HeldRun(run_id=a.a.run_id, attempt=a.a.attempt) for a in self._attempts.values()]
            s.out.put_nowait(worker_pb2.ConnectRequest(heartbeat=worker_pb2.WorkerHeartbeat(running=held, free_slots=max(0, self.concurrency - len(held)))))

    async def _drain(self, s: _Session) -> None:
        """Graceful stop: no more runs, in-flight ones finish within the grace, then the rest are cancelled."""
        # Outcomes kept from a lost stream go out after the welcome: wait for it (briefly).
        end_welcome = time.monotonic() + 5
        while not s.welcomed and not s.call.done() and time.monotonic() < end_welcome:
            await asyncio.sleep(0.02)
        s.out.put_nowait(worker_pb2.ConnectRequest(drain=worker_pb2.WorkerDrain()))
        log.info("stopping: waiting up to %.1f s for %d in-flight runs", self.shutdown_grace, len(self._attempts))
        deadline = time.monotonic() + self.shutdown_grace
        while self._attempts and time.monotonic() < deadline and s.call.done() is False:
            await asyncio.sleep(0.05)
        for att in list(self._attempts.values()):
            self._abort(att, "cancel", "worker shutting down")
        end = time.monotonic() + ABORT_GRACE + 1
        while (self._attempts or self._running_tasks) and time.monotonic() < end:
            await asyncio.sleep(0.02)
        s.out.put_nowait(None)

    # -- attempts -------------------------------------------------------------

    def _send(self, req: worker_pb2.ConnectRequest) -> None:
        s = self._session
        if s is not None and s.welcomed:
            s.out.put_nowait(req)

    def _assigned(self, a: worker_pb2.RunAssignment) -> None:
        t = self.tasks.get(a.task)
        run_id, attempt = a.run_id, a.attempt

        def emit_log(level: str, message: str) -> None:
            self._threadsafe(lambda: self._send(worker_pb2.ConnectRequest(log=worker_pb2.AttemptLog(run_id=run_id, attempt=attempt, level=level, message=message[:4096], time=_now_ts()))))

        def emit_progress(fraction: float, message: str) -> None:
            self._threadsafe(lambda: self._send(worker_pb2.ConnectRequest(progress=worker_pb2.AttemptProgress(run_id=run_id, attempt=attempt, fraction=fraction, message=message[:1024]))))

        deadline = a.deadline.ToDatetime(tzinfo=timezone.utc) if a.HasField("deadline") else None
        ctx = TaskContext(run_id=run_id, task=a.task, attempt=attempt, deadline=deadline, labels=dict(a.labels), log=TaskLogger(emit_log, run_id, attempt), _progress=emit_progress)
        if t is None:
            # The broker assigns only tasks we announced; report rather than hang.
            self._report(a, failure=("UnknownTask", f"this worker does not serve task {a.task!r}", "", False, None))
            return
        att = _Attempt(a, t, ctx)
        self._attempts[run_id] = att
        self.started += 1
        task = asyncio.ensure_future(self._execute(att))
        self._running_tasks.add(task)
        task.add_done_callback(self._running_tasks.discard)

    def _threadsafe(self, fn: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None:
            return
        if _running_loop() is loop:
            fn()
        else:
            loop.call_soon_threadsafe(fn)

    def _abort(self, att: _Attempt, kind: str, reason: str) -> None:
        if att.abort is not None:
            return
        att.abort = (kind, reason)
        att.ctx._cancel(reason)
        if att.inner is not None and att.task.is_async:
            att.inner.cancel()
        if att.process is not None:
            att.process.terminate(ABORT_GRACE)
        gave_up = att.gave_up
        asyncio.get_running_loop().call_later(ABORT_GRACE, _resolve, gave_up, None)

    async def _execute(self, att: _Attempt) -> None:
        a, t = att.a, att.task
        loop = asyncio.get_running_loop()
        if a.timeout_ms > 0:
            remaining = a.timeout_ms / 1000
            if att.ctx.deadline is not None:
                remaining = max(0.0, (att.ctx.deadline - datetime.now(timezone.utc)).total_seconds())
            att.timer = loop.call_later(remaining, self._abort, att, "timeout", f"attempt exceeded its timeout of {a.timeout_ms} ms")
        try:
            try:
                args = _decode_args(a.args)
            except ValueError as err:
                self._report(a, failure=("BadArguments", f"cannot decode args: {err}", "", False, None))
                return
            if t.isolation == "process":
                outcome = await self._run_process(att, args)
            else:
                outcome = await self._run_inline(att, args)
            if att.abort is not None:
                kind, reason = att.abort
                if kind == "timeout":
                    self._report(a, timed_out=True)
                else:
                    self._report(a, cancelled=reason)
                return
            if outcome[0] == "ok":
                self._report_value(a, outcome[1])
            else:
                self._report(a, failure=outcome[1])
        except Exception as err:  # noqa: BLE001 - a bug here must not lose the run's report
            log.exception("internal error running %s attempt %d", a.run_id, a.attempt)
            self._report(a, failure=("WorkerError", f"internal error of the Python worker: {err}", traceback.format_exc(), True, None))
        finally:
            if att.timer is not None:
                att.timer.cancel()

    async def _run_inline(self, att: _Attempt, args: list[Any]) -> tuple[str, Any]:
        loop = asyncio.get_running_loop()
        t = att.task
        ctx = contextvars.copy_context()
        ctx.run(_set_current, att.ctx)
        if t.is_async:
            # A task made inside ctx runs in ctx (its run's context).
            inner: asyncio.Future[Any] = ctx.run(loop.create_task, t.fn(*args))
        else:
            inner = loop.create_future()

            def target() -> None:
                try:
                    value = ctx.run(t.fn, *args)
                except BaseException as exc:  # noqa: BLE001 - the task's failure
                    loop.call_soon_threadsafe(_fail, inner, exc)
                else:
                    loop.call_soon_threadsafe(_resolve, inner, value)

            threading.Thread(target=target, name=f"taskwire-{t.name}", daemon=True).start()
        att.inner = inner
        if att.abort is not None and t.is_async:
            inner.cancel()
        return await self._until_done_or_given_up(att, inner)

    async def _until_done_or_given_up(self, att: _Attempt, inner: asyncio.Future[Any]) -> tuple[str, Any]:
        await asyncio.wait({inner, att.gave_up}, return_when=asyncio.FIRST_COMPLETED)
        if not inner.done():
            # It ignored the abort: report it now; the function's end is not waited for.
            inner.add_done_callback(_consume)
            return ("error", ("Abandoned", "did not stop within the grace period", "", True, None))
        if inner.cancelled():
            return ("error", ("Cancelled", "cancelled", "", True, None))
        exc = inner.exception()
        if exc is None:
            return ("ok", inner.result())
        return ("error", _failure_of(exc))

    async def _run_process(self, att: _Attempt, args: list[Any]) -> tuple[str, Any]:
        a = att.a
        info = {"run_id": a.run_id, "attempt": a.attempt, "deadline": att.ctx.deadline, "labels": dict(a.labels)}

        def started(p: ProcessAttempt) -> None:
            att.process = p
            if att.abort is not None:
                p.terminate(ABORT_GRACE)

        out = await run_in_process(module_ref(att.task.fn), att.task.name, args, info, att.ctx.log._emit, att.ctx._progress, started)
        if out is None:
            return ("error", ("WorkerProcessDied", "the attempt's process ended without a result", "", True, None))
        if out[0] == "ok":
            return ("ok", _payload.RawPayload(out[1], out[2]))
        return ("error", tuple(out[1:]))

    def _report_value(self, a: worker_pb2.RunAssignment, value: Any) -> None:
        try:
            encoded = _payload.encode_value(value)
        except (TypeError, ValueError) as err:
            self._report(a, failure=("ResultNotSerializable", f"result is not JSON-serialisable: {err}", "", False, None))
            return
        limit = self._session.max_result_bytes if self._session else 3 * 1024 * 1024
        if len(encoded.data) > limit:
            self._report(a, failure=("ResultTooLarge", f"result is {len(encoded.data)} bytes, over the broker's limit of {limit}; store large results elsewhere and return a reference", "", False, None))
            return
        self._report(a, result=encoded)

    def _report(
        self,
        a: worker_pb2.RunAssignment,
        *,
        result: types_pb2.Payload | None = None,
        failure: tuple[Any, ...] | None = None,
        timed_out: bool = False,
        cancelled: str | None = None,
    ) -> None:
        f = worker_pb2.AttemptFinished(run_id=a.run_id, attempt=a.attempt)
        if result is not None:
            f.result.CopyFrom(result)
        elif failure is not None:
            type_name, message, stack, retryable, retry_after = failure
            f.failure.failure.CopyFrom(types_pb2.Failure(type=str(type_name)[:256], message=str(message), stack=str(stack), retryable=bool(retryable)))
            if retry_after is not None:
                f.failure.retry_after_ms = int(retry_after)
        elif timed_out:
            f.timed_out.SetInParent()
        else:
            f.cancelled.reason = cancelled or ""
        att = self._attempts.get(a.run_id)
        if att is not None and att.a.attempt == a.attempt:
            del self._attempts[a.run_id]
        self.finished += 1
        s = self._session
        if s is not None and s.welcomed:
            s.out.put_nowait(worker_pb2.ConnectRequest(finished=f))
        else:
            self._unsent[a.run_id] = f


def _resolve(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _fail(fut: asyncio.Future[Any], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)


def _consume(fut: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned future's outcome so asyncio does not warn about it."""
    if not fut.cancelled():
        fut.exception()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _now_ts() -> Any:
    from google.protobuf import timestamp_pb2

    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


def _decode_args(p: types_pb2.Payload) -> list[Any]:
    """A JSON array is the positional arguments; any other JSON value the single argument; other content types pass raw."""
    try:
        value = _payload.decode_payload(p)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(str(err)) from None
    if value is None and not p.data:
        return []
    return value if isinstance(value, list) else [value]


def _failure_of(exc: BaseException) -> tuple[str, str, str, bool, int | None]:
    """(type, message, stack, retryable, retry_after_ms) of what a task raised."""
    retryable = not isinstance(exc, NonRetryableError) and getattr(exc, "retryable", True) is not False
    retry_after = int(round(exc.delay * 1000)) if isinstance(exc, RetryAfterError) else None
    type_name = getattr(exc, "type", None) or type(exc).__name__
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return (str(type_name), str(exc), stack, retryable, retry_after)


def serve(*sources: TaskSource, **options: Any) -> None:
    """Serve the tasks of ``sources`` (tasks, modules, module names or ``.py`` paths) until SIGTERM/SIGINT.

    Keyword options are :class:`Worker`'s. Blocks; stops gracefully on a signal.
    """
    asyncio.run(serve_async(*sources, handle_signals=True, **options))


async def serve_async(*sources: TaskSource, handle_signals: bool = False, **options: Any) -> None:
    """:func:`serve` inside a running event loop."""
    worker = Worker(load_tasks(sources), **options)
    await worker.run(handle_signals=handle_signals)

