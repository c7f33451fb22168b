"""Unit tests of AsyncClient (grpc.aio) against the in-process fake broker."""

from __future__ import annotations

import asyncio
import json
import time
from typing import AsyncIterator

import grpc
import pytest
from fake_broker import FakeBroker

import taskwire


@pytest.fixture
async def aclient(fake: FakeBroker) -> AsyncIterator[taskwire.AsyncClient]:
    async with taskwire.AsyncClient(fake.address, timeout=5) as c:
        yield c


async def test_submit_result(aclient: taskwire.AsyncClient, fake: FakeBroker) -> None:
    h = await aclient.submit("add", 2, 3, queue="math", retry={"max_retries": 1}, timeout_ms=100)
    req = fake.last("Submit").request
    assert json.loads(req.args.data) == [2, 3]
    assert req.options.queue == "math" and req.options.retry.max_retries == 1 and req.options.timeout_ms == 100
    assert isinstance(h, taskwire.AsyncRunHandle) and h.run is not None
    assert h.run.state is taskwire.RunState.PENDING
    fake.complete_later(h.id, 5, 0.2)
    assert await h.result(timeout=5) == 5
    assert (await h.status()).state is taskwire.RunState.COMPLETED


async def test_result_errors(aclient: taskwire.AsyncClient, fake: FakeBroker) -> None:
    h = await aclient.submit("boom")
    fake.fail(h.id, "ConformanceError", "boom")
    with pytest.raises(taskwire.RunFailedError) as info:
        await h.result(timeout=5)
    assert info.value.failure.type == "ConformanceError"

    h2 = await aclient.submit("slow")
    with pytest.raises(taskwire.RunTimeoutError):
        await h2.result(timeout=0.2)
    await h2.cancel("stop")
    with pytest.raises(taskwire.RunCancelledError):
        await h2.result(timeout=1)
    with pytest.raises(taskwire.FailedPreconditionError):
        await h.cancel()


async def test_rpc_errors(aclient: taskwire.AsyncClient, fake: FakeBroker) -> None:
    with pytest.raises(taskwire.NotFoundError) as info:
        await aclient.handle("01890000-0000-7000-8000-000000000000").status()
    assert info.value.code == grpc.StatusCode.NOT_FOUND and "not found" in info.value.message
    with pytest.raises(taskwire.InvalidArgumentError, match="task"):
        await aclient.submit("bad task!")
    fake.fail_next["ListRuns"] = [(grpc.StatusCode.UNAVAILABLE, "down")] * 5
    with pytest.raises(taskwire.UnavailableError) as info2:
        await aclient.list_runs()
    assert info2.value.attempts == 5 and fake.count("ListRuns") == 5


async def test_deadline(fake: FakeBroker) -> None:
    fake.delay["Submit"] = 1.0
    async with taskwire.AsyncClient(fake.address, timeout=0.2) as c:
        t0 = time.monotonic()
        with pytest.raises(taskwire.DeadlineExceededError):
            await c.submit("t")
        assert time.monotonic() - t0 < 0.9
        h = c.handle((await c.submit("t", rpc_timeout=3)).id)
        await h.status(wait=0.1)
    call = fake.last("GetStatus")
    assert call.request.wait_timeout_ms == 100
    assert call.time_remaining is not None and 0.2 < call.time_remaining <= 0.4


async def test_token(fake: FakeBroker) -> None:
    async with taskwire.AsyncClient(fake.address, token="tok") as c:
        await c.list_runs()
    assert fake.last("ListRuns").metadata["authorization"] == "Bearer tok"


async def test_batch_and_list(aclient: taskwire.AsyncClient, fake: FakeBroker) -> None:
    handles = await aclient.submit_batch([taskwire.call("a", 1), ("a", [2]), ("b", [3], {"queue": "q"})])
    assert [h.run.task for h in handles if h.run] == ["a", "a", "b"]
    page = await aclient.list_runs(task="a", page_size=1)
    assert [r.id for r in page] == [handles[1].id] and page.next_page_token
    ids = [r.id async for r in aclient.iter_runs(page_size=1)]
    assert ids == [h.id for h in reversed(handles)]


async def test_events_history_resume_reconnect(aclient: taskwire.AsyncClient, fake: FakeBroker) -> None:
    h = await aclient.submit("add", 1, 2)
    fake.start_run(h.id)
    fake.drop_stream_after = 1
    fake.complete_later(h.id, 3, 0.3)
    stream = h.events(timeout=10)
    events = [e async for e in stream]
    assert [e.type for e in events] == [
        taskwire.EventType.SUBMITTED, taskwire.EventType.STARTED, taskwire.EventType.COMPLETED]
    assert stream.cursor == events[-1].cursor
    assert len([c for c in fake.calls if c.method == "StreamEvents"]) == 2
    resumed = [e.type.name async for e in h.events(after_cursor=events[0].cursor)]
    assert resumed == ["STARTED", "COMPLETED"]


async def test_events_heartbeat_close_and_errors(aclient: taskwire.AsyncClient) -> None:
    h = await aclient.submit("t")
    beats: list[taskwire.Heartbeat] = []
    async with h.events(heartbeat_interval_ms=100, on_heartbeat=beats.append) as stream:
        assert (await stream.__anext__()).type is taskwire.EventType.SUBMITTED
        asyncio.get_running_loop().call_later(0.5, stream.close)
        assert [e async for e in stream] == []
    assert beats and stream.cursor == beats[-1].cursor
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    with pytest.raises(taskwire.InvalidArgumentError, match="after_cursor"):
        await aclient.events(after_cursor="not-a-cursor", timeout=5).__anext__()


async def test_events_task_cancellation(aclient: taskwire.AsyncClient) -> None:
    h = await aclient.submit("t")

    async def consume() -> list[taskwire.Event]:
        return [e async for e in h.events(heartbeat_interval_ms=5000)]  # type: ignore[misc]

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_concurrent_results(aclient: taskwire.AsyncClient, fake: FakeBroker) -> None:
    handles = [await aclient.submit("add", i, i) for i in range(5)]
    for i, h in enumerate(handles):
        fake.complete_later(h.id, 2 * i, 0.1 + 0.05 * i)
    results = await asyncio.gather(*(h.result(timeout=5) for h in handles))
    assert results == [0, 2, 4, 6, 8]
