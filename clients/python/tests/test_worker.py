"""The Python worker: task definitions and loading (no broker), and a worker
serving real runs against the live broker at TASKWIRE_ADDRESS (skipped
without one; `make test` sets it)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

import taskwire
from taskwire.worker import _decode_args, _failure_of
from taskwire.v1 import types_pb2

sys.path.insert(0, str(Path(__file__).parent))
import _worker_tasks as wt  # noqa: E402

ADDRESS = os.environ.get("TASKWIRE_ADDRESS")
live = pytest.mark.skipif(not ADDRESS, reason="TASKWIRE_ADDRESS is not set: the worker tests need a live broker")


# -- definitions, without a broker ---------------------------------------------


def test_task_decorator_declares_name_and_options() -> None:
    @taskwire.task(name="send-email", retries=3, retry_delays=[1, 2.5], timeout=30.0, concurrency_limit=5)
    def send(to: str) -> str:
        return to

    assert isinstance(send, taskwire.Task)
    assert send("a@b.c") == "a@b.c"  # calling it calls the function
    p = send.to_proto()
    assert p.name == "send-email"
    assert p.timeout_ms == 30_000
    assert p.concurrency_limit == 5
    assert p.retry.max_retries == 3
    assert list(p.retry.delays_ms) == [1000, 2500]
    assert not send.is_async


def test_task_defaults_to_the_function_name_and_knows_async() -> None:
    @taskwire.task
    async def fetch_page() -> None:
        return None

    assert fetch_page.name == "fetch_page"
    assert fetch_page.is_async
    assert not fetch_page.to_proto().HasField("retry")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "bad name"}, "not valid"),
        ({"name": "x", "retries": 101}, "retries"),
        ({"name": "x", "timeout": -1}, "timeout"),
        ({"name": "x", "isolation": "thread"}, "isolation"),
    ],
)
def test_task_rejects_bad_options(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        taskwire.task(**kwargs)(lambda: None)


def test_process_isolation_is_for_sync_functions() -> None:
    async def f() -> None:
        return None

    with pytest.raises(ValueError, match="sync"):
        taskwire.task(name="x", isolation="process")(f)


def test_load_tasks_from_modules_paths_and_objects(tmp_path: Path) -> None:
    assert {t.name for t in taskwire.load_tasks([wt])} >= {wt.n("add"), wt.n("spin")}
    f = tmp_path / "my_tasks_mod.py"
    f.write_text("import taskwire\n\n@taskwire.task(name='from-file')\ndef hello():\n    return 'hi'\n")
    [t] = taskwire.load_tasks([str(f)])
    assert t.name == "from-file" and t() == "hi"
    assert taskwire.load_tasks([wt.add, wt.add]) == [wt.add]
    empty = tmp_path / "no_tasks_mod.py"
    empty.write_text("x = 1\n")
    with pytest.raises(taskwire.WorkerError, match="defines no tasks"):
        taskwire.load_tasks([str(empty)])
    clash = taskwire.task(name=wt.n("add"))(lambda: 0)
    with pytest.raises(taskwire.WorkerError, match="defined twice"):
        taskwire.load_tasks([wt, clash])


def test_arguments_decode_like_the_ts_worker() -> None:
    j = lambda s: types_pb2.Payload(content_type="application/json", data=s.encode())  # noqa: E731
    assert _decode_args(j("[1, 2]")) == [1, 2]
    assert _decode_args(j('{"a": 1}')) == [{"a": 1}]
    assert _decode_args(j("[]")) == []
    assert _decode_args(types_pb2.Payload()) == []
    raw = _decode_args(types_pb2.Payload(content_type="text/plain", data=b"hi"))
    assert raw == [taskwire.RawPayload("text/plain", b"hi")]
    with pytest.raises(ValueError):
        _decode_args(j("[1,"))


def test_failures_carry_type_retryable_and_retry_after() -> None:
    t, msg, stack, retryable, after = _failure_of(ValueError("bad"))
    assert (t, msg, retryable, after) == ("ValueError", "bad", True, None)
    assert "ValueError: bad" in stack
    t, _, _, retryable, _ = _failure_of(taskwire.NonRetryableError("no", type="Refused"))
    assert (t, retryable) == ("Refused", False)
    _, _, _, retryable, after = _failure_of(taskwire.RetryAfterError(1.5, "later"))
    assert (retryable, after) == (True, 1500)


def test_context_outside_a_task_says_so() -> None:
    with pytest.raises(RuntimeError, match="only available inside a task"):
        taskwire.context()


def test_a_worker_needs_tasks_and_sane_settings() -> None:
    with pytest.raises(taskwire.WorkerError, match="at least one task"):
        taskwire.Worker([])
    with pytest.raises(ValueError, match="concurrency"):
        taskwire.Worker([wt.add], concurrency=0)


# -- a worker serving real runs ---------------------------------------------------


class Background:
    """A Worker running on an event loop of its own, in a thread."""

    def __init__(self, worker: taskwire.Worker) -> None:
        self.worker = worker
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()

    def _main(self) -> None:
        try:
            asyncio.run(self.worker.run())
        except BaseException as err:  # noqa: BLE001 - reported by stop()
            self.error = err

    def stop(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + 5
        while self.worker._loop is None and time.monotonic() < deadline:
            time.sleep(0.01)
        self.worker.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the worker did not stop"
        if self.error is not None:
            raise self.error


@pytest.fixture(scope="module")
def worker() -> Iterator[taskwire.Worker]:
    if not ADDRESS:
        pytest.skip("TASKWIRE_ADDRESS is not set: the worker tests need a live broker (make test starts one)")
    bg = Background(taskwire.Worker(taskwire.load_tasks([wt]), address=ADDRESS, concurrency=8, shutdown_grace=2))
    yield bg.worker
    bg.stop()


@pytest.fixture(scope="module")
def client() -> Iterator[taskwire.Client]:
    if not ADDRESS:
        pytest.skip("TASKWIRE_ADDRESS is not set: the worker tests need a live broker (make test starts one)")
    with taskwire.Client(ADDRESS, timeout=15) as c:
        yield c


@live
def test_sync_and_async_tasks_complete(worker: taskwire.Worker, client: taskwire.Client) -> None:
    assert client.submit(wt.n("add"), 2, 3).result(timeout=20) == 5
    assert client.submit(wt.n("aecho"), {"k": [1, "é"]}).result(timeout=20) == {"echo": {"k": [1, "é"]}, "attempt": 1}
    run = client.get_run(client.submit(wt.n("add"), 1, 1).id, wait=20)
    assert run.worker_id == worker.worker_id


@live
def test_retries_declared_by_the_task_are_visible(worker: taskwire.Worker, client: taskwire.Client) -> None:
    h = client.submit(wt.n("flaky"))
    assert h.result(timeout=20) == 3
    run = h.status()
    assert [a.outcome.name for a in run.attempts] == ["FAILED", "FAILED", "SUCCEEDED"]
    assert run.attempts[0].error is not None and run.attempts[0].error.type == "ConnectionError"


@live
def test_non_retryable_and_retry_after(worker: taskwire.Worker, client: taskwire.Client) -> None:
    with pytest.raises(taskwire.RunFailedError) as e:
        client.submit(wt.n("never")).result(timeout=20)
    assert e.value.failure is not None and e.value.failure.type == "Refused"
    started = time.monotonic()
    assert client.submit(wt.n("later")).result(timeout=20) == "later"
    assert time.monotonic() - started >= 0.25


@live
@pytest.mark.parametrize("name", ["asleep", "polite", "spin"])
def test_timeouts_async_cooperative_sync_and_process_hard_stop(worker: taskwire.Worker, client: taskwire.Client, name: str) -> None:
    started = time.monotonic()
    with pytest.raises(taskwire.RunFailedError) as e:
        client.submit(wt.n(name), 30).result(timeout=30)
    assert e.value.failure is not None and e.value.failure.type == "TimeoutError"
    # async: cancelled at its await; sync: stops when it sees the flag; process: terminated.
    assert time.monotonic() - started < 5
    assert e.value.run.attempts[0].outcome.name == "TIMED_OUT"


@live
def test_cancel_a_running_run(worker: taskwire.Worker, client: taskwire.Client) -> None:
    h = client.submit(wt.n("asleep"), 30, timeout_ms=60_000)
    deadline = time.monotonic() + 20
    while h.status().state != taskwire.RunState.RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    client.cancel(h.id, "changed my mind")
    with pytest.raises(taskwire.RunCancelledError):
        h.result(timeout=20)


@live
def test_logs_and_progress_reach_the_run(worker: taskwire.Worker, client: taskwire.Client) -> None:
    h = client.submit(wt.n("chatty"), 3)
    assert h.result(timeout=20) == 3
    run = h.status()
    assert [line.message for line in run.logs] == ["line 0", "line 1", "line 2"]
    assert run.progress is not None and run.progress.fraction == 1.0
    types = [e.type.name for e in client.events(run_ids=[h.id], until_terminal=True)]
    assert "LOG" in types and "PROGRESS" in types


@live
def test_large_results_and_process_isolation(worker: taskwire.Worker, client: taskwire.Client) -> None:
    assert len(client.submit(wt.n("big"), 200_000).result(timeout=20)) == 200_000
    h = client.submit(wt.n("isolated"), 7)
    out = h.result(timeout=30)
    assert out["a"] == 7 and out["pid"] != os.getpid()
    assert [line.message for line in h.status().logs] == ["from the child process"]


@live
def test_graceful_shutdown_finishes_short_runs_and_cancels_long_ones(client: taskwire.Client) -> None:
    suffix = uuid.uuid4().hex[:8]

    @taskwire.task(name=f"pyw-stop-short-{suffix}")
    async def short() -> str:
        await asyncio.sleep(0.5)
        return "done"

    @taskwire.task(name=f"pyw-stop-long-{suffix}")
    async def long() -> str:
        await asyncio.sleep(60)
        return "never"

    bg = Background(taskwire.Worker([short, long], address=ADDRESS, concurrency=2, shutdown_grace=1.5))
    a = client.submit(short.name)
    b = client.submit(long.name)
    deadline = time.monotonic() + 20
    while not (a.status().state == taskwire.RunState.RUNNING and b.status().state == taskwire.RunState.RUNNING):
        assert time.monotonic() < deadline, "both runs should start"
        time.sleep(0.02)
    bg.stop()
    assert a.result(timeout=10) == "done"
    with pytest.raises(taskwire.RunCancelledError) as e:
        b.result(timeout=10)
    assert "worker shutting down" in str(e.value)
