"""Default request ids and client-side retries (CallRetry), sync and asyncio,
against the in-process fake broker."""

from __future__ import annotations

import re
import time
import warnings
from typing import Any, AsyncIterator, Callable, Iterator

import grpc
import pytest
from fake_broker import FakeBroker

import taskwire
from taskwire.v1 import taskwire_pb2

UUID7_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
UNAVAILABLE = (grpc.StatusCode.UNAVAILABLE, "NATS is unreachable; retry the call")
RETRYABLE_ABORTED = (grpc.StatusCode.ABORTED, taskwire.RETRYABLE_ABORTED_MESSAGE)
FAST = taskwire.CallRetry(initial_backoff=0.01, max_backoff=0.05)


def submits(fake: FakeBroker) -> list[taskwire_pb2.SubmitRequest]:
    return [c.request for c in fake.calls if c.method == "Submit"]


@pytest.fixture
def rclient(fake: FakeBroker) -> Iterator[taskwire.Client]:
    with taskwire.Client(fake.address, timeout=5, call_retry=FAST) as c:
        yield c


@pytest.fixture
async def aclient(fake: FakeBroker) -> AsyncIterator[taskwire.AsyncClient]:
    async with taskwire.AsyncClient(fake.address, timeout=5, call_retry=FAST) as c:
        yield c


# -- request ids -------------------------------------------------------------------


def test_submit_gets_a_request_id_per_call(rclient: taskwire.Client, fake: FakeBroker) -> None:
    a = rclient.submit("t")
    b = rclient.submit("t")
    ra, rb = submits(fake)
    assert UUID7_RE.match(ra.request_id) and UUID7_RE.match(rb.request_id) and ra.request_id != rb.request_id
    # A request id, not an idempotency key (which would cost the broker a write).
    assert ra.options.idempotency_key == "" and rb.options.idempotency_key == ""
    # The broker made each (fresh) request id its run's id.
    assert (a.id, b.id) == (ra.request_id, rb.request_id)
    assert not a.deduplicated and not b.deduplicated


def test_caller_key_is_kept(rclient: taskwire.Client, fake: FakeBroker) -> None:
    fake.fail_next["Submit"] = [UNAVAILABLE, UNAVAILABLE]
    h = rclient.submit("t", idempotency_key="order-42")
    reqs = submits(fake)
    assert [r.options.idempotency_key for r in reqs] == ["order-42"] * 3
    assert [r.request_id for r in reqs] == [""] * 3  # the key decides: no request id
    assert fake.state.idem["order-42"] == h.id


def test_request_ids_off(fake: FakeBroker) -> None:
    with taskwire.Client(fake.address, timeout=5, call_retry=FAST, request_ids=False) as c:
        assert c.request_ids is False
        c.submit("t")
        last = submits(fake)[-1]
        assert last.request_id == "" and last.options.idempotency_key == ""
        # Without a key or a request id a retry could create a second run: not retried.
        fake.fail_next["Submit"] = UNAVAILABLE
        with pytest.raises(taskwire.UnavailableError) as info:
            c.submit("t")
        assert info.value.attempts == 1 and len(submits(fake)) == 2
        assert submits(fake)[-1].request_id == ""
        # With the caller's key it is.
        fake.fail_next["Submit"] = UNAVAILABLE
        c.submit("t", idempotency_key="k")
        assert [r.options.idempotency_key for r in submits(fake)[2:]] == ["k", "k"]
        assert [r.request_id for r in submits(fake)[2:]] == ["", ""]


@pytest.mark.parametrize("client_class", [taskwire.Client, taskwire.AsyncClient])
async def test_auto_idempotency_keys_is_a_deprecated_alias(client_class: Any) -> None:
    with pytest.warns(DeprecationWarning, match="auto_idempotency_keys is deprecated: use request_ids"):
        off = client_class("127.0.0.1:1", auto_idempotency_keys=False)
    with pytest.warns(DeprecationWarning):
        on = client_class("127.0.0.1:1", auto_idempotency_keys=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name warns nothing
        default = client_class("127.0.0.1:1")
        new_off = client_class("127.0.0.1:1", request_ids=False)
    assert (off.request_ids, on.request_ids, default.request_ids, new_off.request_ids) == (False, True, True, False)
    assert off.auto_idempotency_keys is False and default.auto_idempotency_keys is True
    for c in (off, on, default, new_off):
        closed = c.close()
        if closed is not None:
            await closed


def test_schedules_and_batches_get_no_request_id(rclient: taskwire.Client, fake: FakeBroker) -> None:
    rclient.create_schedule("s", "* * * * *", "t")
    run = fake.last("CreateSchedule").request.schedule.run
    assert run.options.idempotency_key == "" and run.request_id == ""
    rclient.submit_batch([taskwire.call("t")])
    item = fake.last("SubmitBatch").request.runs[0]
    assert item.options.idempotency_key == "" and item.request_id == ""


# -- Submit retries --------------------------------------------------------------


def test_submit_retries_unavailable_with_the_same_request_id(rclient: taskwire.Client, fake: FakeBroker) -> None:
    fake.fail_next["Submit"] = UNAVAILABLE
    h = rclient.submit("add", 1, 2)
    first, second = submits(fake)
    assert UUID7_RE.match(first.request_id)
    assert second == first  # the very same request, request id included
    assert second.request_id == first.request_id == h.id
    assert list(fake.state.runs) == [h.id] and not h.deduplicated


def test_lost_answer_is_retried_into_the_same_run(rclient: taskwire.Client, fake: FakeBroker) -> None:
    # The broker created the run, then the answer was lost (node loss).
    fake.lose_next["Submit"] = UNAVAILABLE
    h = rclient.submit("t")
    first, second = submits(fake)
    assert UUID7_RE.match(first.request_id) and second.request_id == first.request_id
    assert list(fake.state.runs) == [h.id] == [first.request_id]  # one run, not two
    # The broker answered "deduplicated", but by this call's own first
    # attempt (the request id was made for it): not reported as a duplicate.
    assert h.deduplicated is False


def test_lost_answer_with_caller_key_reports_deduplicated(rclient: taskwire.Client, fake: FakeBroker) -> None:
    fake.lose_next["Submit"] = UNAVAILABLE
    h = rclient.submit("t", idempotency_key="k")
    assert list(fake.state.runs) == [h.id] and h.deduplicated is True


def test_retryable_aborted_is_retried(rclient: taskwire.Client, fake: FakeBroker) -> None:
    fake.fail_next["Submit"] = [RETRYABLE_ABORTED, UNAVAILABLE]
    rclient.submit("t")
    reqs = submits(fake)
    assert len(reqs) == 3 and len({r.request_id for r in reqs}) == 1 and UUID7_RE.match(reqs[0].request_id)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (grpc.StatusCode.ABORTED, "run id collision; retry the call"),
        (grpc.StatusCode.ABORTED, taskwire.RETRYABLE_ABORTED_MESSAGE.upper()),
        (grpc.StatusCode.INVALID_ARGUMENT, "task: bad"),
        (grpc.StatusCode.ALREADY_EXISTS, "request_id x was already used for another Submit"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "args: too large"),
        (grpc.StatusCode.INTERNAL, "boom"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "too slow"),
    ],
)
def test_other_errors_are_not_retried(
    rclient: taskwire.Client, fake: FakeBroker, code: grpc.StatusCode, message: str
) -> None:
    fake.fail_next["Submit"] = (code, message)
    with pytest.raises(taskwire.RpcError) as info:
        rclient.submit("t")
    assert info.value.code == code and info.value.message == message
    assert info.value.attempts == 1 and len(submits(fake)) == 1
    assert not info.value.retryable


def test_gives_up_after_max_attempts(fake: FakeBroker) -> None:
    retry = taskwire.CallRetry(max_attempts=3, initial_backoff=0.01, max_backoff=0.01)
    fake.fail_next["Submit"] = [UNAVAILABLE] * 10
    with taskwire.Client(fake.address, timeout=5, call_retry=retry) as c:
        with pytest.raises(taskwire.UnavailableError) as info:
            c.submit("t")
    assert info.value.attempts == 3 and info.value.retryable
    reqs = submits(fake)
    assert len(reqs) == 3 and len({r.request_id for r in reqs}) == 1


@pytest.mark.parametrize("call_retry", [None, taskwire.CallRetry(max_attempts=1)])
def test_retries_off(fake: FakeBroker, call_retry: taskwire.CallRetry | None) -> None:
    fake.fail_next["Submit"] = UNAVAILABLE
    with taskwire.Client(fake.address, timeout=5, call_retry=call_retry) as c:
        with pytest.raises(taskwire.UnavailableError) as info:
            c.submit("t")
        assert info.value.attempts == 1 and len(submits(fake)) == 1
        c.submit("t")
    assert UUID7_RE.match(submits(fake)[-1].request_id)  # request ids stay on


@pytest.mark.parametrize("per_call", [False, True])
def test_deadline_bounds_all_attempts(fake: FakeBroker, per_call: bool) -> None:
    retry = taskwire.CallRetry(max_attempts=1000, initial_backoff=0.02, max_backoff=0.08)
    fake.fail_next["Submit"] = [UNAVAILABLE] * 1000
    with taskwire.Client(fake.address, timeout=5 if per_call else 0.5, call_retry=retry) as c:
        t0 = time.monotonic()
        with pytest.raises(taskwire.UnavailableError) as info:
            c.submit("t", rpc_timeout=0.5 if per_call else None)
        elapsed = time.monotonic() - t0
    # It retried while there was time and stopped at the deadline rather
    # than retrying past it (1000 attempts would take over 60 s); the upper
    # bound leaves 0.3 s for a loaded CI machine's scheduling.
    assert 0.3 < elapsed < 0.8, elapsed
    attempts = info.value.attempts
    assert 3 < attempts < 1000 and len(submits(fake)) == attempts
    # Every attempt got what was left of the one deadline.
    remaining = [c.time_remaining for c in fake.calls]
    assert all(r is not None and r <= 0.55 for r in remaining)
    assert remaining[-1] < remaining[0] - 0.2  # type: ignore[operator]


def test_a_hanging_attempt_ends_at_the_deadline(fake: FakeBroker) -> None:
    fake.delay["Submit"] = 1.0
    with taskwire.Client(fake.address, timeout=0.3, call_retry=FAST) as c:
        t0 = time.monotonic()
        with pytest.raises(taskwire.DeadlineExceededError) as info:
            c.submit("t")
        assert time.monotonic() - t0 < 0.9 and info.value.attempts == 1


# -- other methods -----------------------------------------------------------------

CALLS: dict[str, Callable[[taskwire.Client, str], Any]] = {
    "GetStatus": lambda c, run_id: c.get_run(run_id),
    "ListRuns": lambda c, run_id: c.list_runs(),
    "Cancel": lambda c, run_id: c.cancel(run_id),
    "Retry": lambda c, run_id: c.retry(run_id),
}


@pytest.mark.parametrize("method", sorted(CALLS))
def test_reads_and_cas_writes_retry_unavailable(rclient: taskwire.Client, fake: FakeBroker, method: str) -> None:
    h = rclient.submit("t")
    if method == "Retry":
        fake.fail(h.id, "E", "m")
    fake.fail_next[method] = [UNAVAILABLE, UNAVAILABLE]
    CALLS[method](rclient, h.id)
    assert fake.count(method) == 3


@pytest.mark.parametrize("method", sorted(CALLS))
def test_reads_and_cas_writes_do_not_retry_aborted(rclient: taskwire.Client, fake: FakeBroker, method: str) -> None:
    h = rclient.submit("t")
    fake.fail_next[method] = RETRYABLE_ABORTED  # only Submit's retryable ABORTED is retried
    with pytest.raises(taskwire.RpcError):
        CALLS[method](rclient, h.id)
    assert fake.count(method) == 1


def test_cancel_whose_answer_was_lost(rclient: taskwire.Client, fake: FakeBroker) -> None:
    h = rclient.submit("t")
    fake.lose_next["Cancel"] = UNAVAILABLE
    assert rclient.cancel(h.id).state is taskwire.RunState.CANCELLED  # the retry is a no-op
    assert fake.count("Cancel") == 2


def test_not_retried_methods(rclient: taskwire.Client, fake: FakeBroker) -> None:
    fake.fail_next["SubmitBatch"] = UNAVAILABLE
    with pytest.raises(taskwire.UnavailableError):
        rclient.submit_batch([taskwire.call("t")])
    fake.fail_next["ListSchedules"] = UNAVAILABLE
    with pytest.raises(taskwire.UnavailableError):
        rclient.list_schedules()
    assert fake.count("SubmitBatch") == 1 and fake.count("ListSchedules") == 1


def test_wait_does_not_stack_retries(rclient: taskwire.Client, fake: FakeBroker) -> None:
    h = rclient.submit("t")
    fake.complete(h.id, 7)
    fake.fail_next["GetStatus"] = [UNAVAILABLE] * 3
    assert h.result(timeout=10) == 7
    assert fake.count("GetStatus") == 4  # wait()'s own loop, one call per try


# -- CallRetry -------------------------------------------------------------------


def test_call_retry_defaults_and_backoff() -> None:
    r = taskwire.CallRetry()
    assert (r.max_attempts, r.initial_backoff, r.max_backoff, r.backoff_multiplier, r.jitter) == (5, 0.05, 1.0, 2.0, 0.2)
    assert taskwire.DEFAULT_CALL_RETRY == r
    mid = [round(r.backoff(n, rand=lambda: 0.5), 6) for n in range(1, 8)]
    assert mid == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert r.backoff(1, rand=lambda: 0.0) == pytest.approx(0.04)
    assert r.backoff(7, rand=lambda: 1.0) == pytest.approx(1.2)
    for n in range(1, 10):
        assert 0.8 * min(1.0, 0.05 * 2 ** (n - 1)) <= r.backoff(n) <= 1.2 * min(1.0, 0.05 * 2 ** (n - 1))
    assert taskwire.CallRetry(jitter=0).backoff(2, rand=lambda: 1.0) == 0.1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_attempts": 2.5},
        {"initial_backoff": -1},
        {"max_backoff": 0.01},
        {"backoff_multiplier": 0.5},
        {"jitter": 1.5},
        {"jitter": float("nan")},
    ],
)
def test_call_retry_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        taskwire.CallRetry(**kwargs)


def test_call_retry_type_is_checked() -> None:
    with pytest.raises(TypeError):
        taskwire.Client("h:1", call_retry=3)  # type: ignore[arg-type]


def test_retryable_property() -> None:
    def err(code: grpc.StatusCode, message: str) -> taskwire.RpcError:
        return taskwire.RpcError(message, code=code)

    assert err(*UNAVAILABLE).retryable
    assert err(*RETRYABLE_ABORTED).retryable
    assert not err(grpc.StatusCode.ABORTED, "run id collision; retry the call").retryable


# -- asyncio -----------------------------------------------------------------------


async def test_async_submit_retries_with_the_same_request_id(aclient: taskwire.AsyncClient, fake: FakeBroker) -> None:
    fake.fail_next["Submit"] = [UNAVAILABLE, RETRYABLE_ABORTED]
    h = await aclient.submit("t")
    reqs = submits(fake)
    assert len(reqs) == 3 and reqs[0] == reqs[1] == reqs[2]
    assert UUID7_RE.match(reqs[0].request_id) and reqs[0].options.idempotency_key == ""
    assert list(fake.state.runs) == [h.id] == [reqs[0].request_id]


async def test_async_caller_key_and_lost_answer(aclient: taskwire.AsyncClient, fake: FakeBroker) -> None:
    fake.lose_next["Submit"] = UNAVAILABLE
    h = await aclient.submit("t")
    assert list(fake.state.runs) == [h.id] and h.deduplicated is False
    assert [r.request_id for r in submits(fake)] == [h.id, h.id]
    fake.lose_next["Submit"] = UNAVAILABLE
    h2 = await aclient.submit("t", idempotency_key="mine")
    assert [r.options.idempotency_key for r in submits(fake)[2:]] == ["mine", "mine"]
    assert [r.request_id for r in submits(fake)[2:]] == ["", ""]
    assert h2.deduplicated is True and len(fake.state.runs) == 2


async def test_async_other_aborted_is_not_retried(aclient: taskwire.AsyncClient, fake: FakeBroker) -> None:
    fake.fail_next["Submit"] = (grpc.StatusCode.ABORTED, "something else")
    with pytest.raises(taskwire.RpcError) as info:
        await aclient.submit("t")
    assert info.value.code == grpc.StatusCode.ABORTED and info.value.attempts == 1
    assert len(submits(fake)) == 1


async def test_async_deadline_bounds_all_attempts(fake: FakeBroker) -> None:
    retry = taskwire.CallRetry(max_attempts=1000, initial_backoff=0.02, max_backoff=0.08)
    fake.fail_next["Submit"] = [UNAVAILABLE] * 1000
    async with taskwire.AsyncClient(fake.address, timeout=0.5, call_retry=retry) as c:
        t0 = time.monotonic()
        with pytest.raises(taskwire.UnavailableError) as info:
            await c.submit("t")
        elapsed = time.monotonic() - t0
    assert 0.3 < elapsed < 0.8, elapsed  # as in the sync test above
    assert 3 < info.value.attempts < 1000


async def test_async_request_ids_off(fake: FakeBroker) -> None:
    async with taskwire.AsyncClient(fake.address, timeout=5, call_retry=FAST, request_ids=False) as c:
        fake.fail_next["Submit"] = UNAVAILABLE
        with pytest.raises(taskwire.UnavailableError) as info:
            await c.submit("t")
        assert info.value.attempts == 1  # neither key nor request id: not retried
        await c.submit("t")
    assert [(r.options.idempotency_key, r.request_id) for r in submits(fake)] == [("", ""), ("", "")]


async def test_async_reads_and_cas_writes_retry_unavailable(aclient: taskwire.AsyncClient, fake: FakeBroker) -> None:
    h = await aclient.submit("t")
    fake.fail(h.id, "E", "m")
    for method in ("GetStatus", "ListRuns", "Retry", "Cancel"):
        fake.fail_next[method] = [UNAVAILABLE, UNAVAILABLE]
    await aclient.get_run(h.id)
    await aclient.list_runs()
    run = await aclient.retry(h.id)
    assert run.state is taskwire.RunState.PENDING
    await aclient.cancel(h.id)
    assert [fake.count(m) for m in ("GetStatus", "ListRuns", "Retry", "Cancel")] == [3, 3, 3, 3]
