"""Unit tests of the sync client against the in-process fake broker."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from fake_broker import FakeBroker

import taskwire
from taskwire.v1 import taskwire_pb2, types_pb2


# -- submit / option mapping -------------------------------------------------


def test_submit_maps_every_option(client: taskwire.Client, fake: FakeBroker) -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, 600000, tzinfo=timezone.utc)
    handle = client.submit(
        "add",
        2,
        3,
        idempotency_key="k1",
        queue="math",
        priority=7,
        retry=taskwire.RetryPolicy(
            max_retries=3,
            initial_delay_ms=250,
            backoff_multiplier=1.5,
            max_delay_ms=5000,
            jitter=0.2,
            delays_ms=[100, 200],
            retry_on=["FlakyError"],
            never_retry_on=["FatalError"],
        ),
        timeout_ms=1500,
        scheduled_at=when,
        labels={"team": "core", "n": "1"},
        cache_key="c1",
        cache_ttl_ms=timedelta(minutes=1),
        refresh_cache=True,
        concurrency_key="user-1",
        schedule_to_start_timeout_ms=9000,
        wait_for=["01890000-0000-7000-8000-000000000000"],
        run_if_dependencies_fail=True,
    )
    req: taskwire_pb2.SubmitRequest = fake.last("Submit").request
    assert req.task == "add"
    assert req.args.content_type == "application/json"
    assert json.loads(req.args.data) == [2, 3]
    o = req.options
    assert o.idempotency_key == "k1"
    assert o.queue == "math"
    assert o.priority == 7
    assert o.retry == types_pb2.RetryPolicy(
        max_retries=3, initial_delay_ms=250, backoff_multiplier=1.5, max_delay_ms=5000, jitter=0.2,
        delays_ms=[100, 200], retry_on=["FlakyError"], never_retry_on=["FatalError"],
    )
    assert o.timeout_ms == 1500
    assert o.scheduled_at.ToDatetime(tzinfo=timezone.utc) == when
    assert o.delay_ms == 0
    assert dict(o.labels) == {"team": "core", "n": "1"}
    assert o.cache_key == "c1"
    assert o.cache_ttl_ms == 60000
    assert o.refresh_cache is True
    assert o.concurrency_key == "user-1"
    assert o.schedule_to_start_timeout_ms == 9000
    assert list(o.wait_for) == ["01890000-0000-7000-8000-000000000000"]
    assert o.run_if_dependencies_fail is True
    # Every SubmitOptions field is covered above.
    assert {f.name for f in types_pb2.SubmitOptions.DESCRIPTOR.fields} - {f.name for f, _ in o.ListFields()} == {"delay_ms"}
    assert handle.run is not None and handle.run.state == taskwire.RunState.SCHEDULED
    assert handle.run.labels == {"team": "core", "n": "1"}


def test_submit_defaults_leave_options_unset(client: taskwire.Client, fake: FakeBroker) -> None:
    client.submit("noargs")
    req = fake.last("Submit").request
    assert json.loads(req.args.data) == []
    # No option is set; the request carries a request id (see test_call_retry.py).
    assert req.options == types_pb2.SubmitOptions()
    assert len(req.request_id) == 36
    assert not req.options.HasField("retry")
    assert not req.options.HasField("scheduled_at")


def test_retry_as_dict_and_delay(client: taskwire.Client, fake: FakeBroker) -> None:
    client.submit("t", retry={"max_retries": 2, "delays_ms": [100]}, delay_ms=60000)
    o = fake.last("Submit").request.options
    assert o.retry == types_pb2.RetryPolicy(max_retries=2, delays_ms=[100])
    assert o.delay_ms == 60000


def test_bad_options_raise_before_the_call(client: taskwire.Client, fake: FakeBroker) -> None:
    with pytest.raises(TypeError, match="unknown retry option"):
        client.submit("t", retry={"max_retry": 2})
    with pytest.raises(TypeError):
        client.submit("t", delay_ms="5")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.submit("t", 1, payload=taskwire.RawPayload("text/plain", b"x"))
    with pytest.raises(ValueError):
        client.submit("t", float("nan"))
    assert not fake.calls


def test_naive_scheduled_at_is_utc(client: taskwire.Client, fake: FakeBroker) -> None:
    client.submit("t", scheduled_at=datetime(2030, 1, 1, 12, 0, 0))
    ts = fake.last("Submit").request.options.scheduled_at
    assert ts.ToDatetime(tzinfo=timezone.utc) == datetime(2030, 1, 1, 12, tzinfo=timezone.utc)


def test_json_args_roundtrip_unicode_and_objects(client: taskwire.Client, fake: FakeBroker) -> None:
    h = client.submit("echo", {"a": [1, 2, {"b": None}], "s": "héllo 🚀"}, "日本語")
    raw = fake.last("Submit").request.args.data
    assert raw.decode("utf-8") == '[{"a":[1,2,{"b":null}],"s":"héllo 🚀"},"日本語"]'
    assert h.run is not None and h.run.args == [{"a": [1, 2, {"b": None}], "s": "héllo 🚀"}, "日本語"]


def test_raw_payload(client: taskwire.Client, fake: FakeBroker) -> None:
    client.submit("blob", payload=taskwire.RawPayload("application/octet-stream", b"\x00\x01"))
    args = fake.last("Submit").request.args
    assert (args.content_type, args.data) == ("application/octet-stream", b"\x00\x01")
    assert taskwire.decode_payload(args) == taskwire.RawPayload("application/octet-stream", b"\x00\x01")


def test_idempotent_submit_is_deduplicated(client: taskwire.Client) -> None:
    a = client.submit("t", idempotency_key="same")
    b = client.submit("t", idempotency_key="same")
    assert a.id == b.id and a == b
    assert not a.deduplicated and b.deduplicated


# -- results and run errors --------------------------------------------------


def test_result_completed(client: taskwire.Client, fake: FakeBroker) -> None:
    h = client.submit("add", 2, 3)
    fake.complete_later(h.id, 5, 0.2)
    assert h.result(timeout=5) == 5
    run = h.status()
    assert run.state is taskwire.RunState.COMPLETED
    assert run.is_terminal and run.attempt == 1 and len(run.attempts) == 1
    assert run.attempts[0].outcome is taskwire.AttemptOutcome.SUCCEEDED
    assert run.finished_at is not None and run.finished_at.tzinfo is not None
    assert run.last_event is taskwire.EventType.COMPLETED


def test_result_failed_raises_run_failed_error(client: taskwire.Client, fake: FakeBroker) -> None:
    h = client.submit("boom")
    fake.fail(h.id, "ConformanceError", "boom happened", "at x.ts:1")
    with pytest.raises(taskwire.RunFailedError) as info:
        h.result(timeout=5)
    err = info.value
    assert isinstance(err, taskwire.RunError) and isinstance(err, taskwire.TaskwireError)
    assert err.failure == taskwire.Failure("ConformanceError", "boom happened", "at x.ts:1", False)
    assert (err.error_type, err.error_message, err.stack) == ("ConformanceError", "boom happened", "at x.ts:1")
    assert err.run.id == h.id and err.run_id == h.id
    assert err.code is None
    assert "boom happened" in str(err)
    # wait() returns the record instead of raising
    assert h.wait(timeout=1).state is taskwire.RunState.FAILED


def test_result_cancelled(client: taskwire.Client) -> None:
    h = client.submit("t", delay_ms=60000)
    run = h.cancel("no longer needed")
    assert run.state is taskwire.RunState.CANCELLED
    with pytest.raises(taskwire.RunCancelledError) as info:
        h.result(timeout=1)
    assert info.value.reason == "no longer needed"
    # cancelling again is a no-op
    assert h.cancel().state is taskwire.RunState.CANCELLED


def test_result_timeout(client: taskwire.Client, fake: FakeBroker) -> None:
    h = client.submit("slow")
    t0 = time.monotonic()
    with pytest.raises(taskwire.RunTimeoutError) as info:
        h.result(timeout=0.3)
    assert 0.25 < time.monotonic() - t0 < 3
    err = info.value
    assert isinstance(err, TimeoutError)
    assert err.code == grpc.StatusCode.DEADLINE_EXCEEDED and err.is_deadline_exceeded
    assert err.run is not None and err.run.state is taskwire.RunState.PENDING
    # the wait was done broker-side, not by polling
    waits = [c.request.wait_timeout_ms for c in fake.calls if c.method == "GetStatus"]
    assert waits and waits[0] == 300


def test_result_zero_timeout_checks_once(client: taskwire.Client, fake: FakeBroker) -> None:
    h = client.submit("t")
    with pytest.raises(taskwire.RunTimeoutError):
        h.result(timeout=0)
    fake.complete(h.id, "ok")
    assert h.result(timeout=0) == "ok"


def test_wait_does_not_spin_when_broker_ignores_wait(client: taskwire.Client, fake: FakeBroker) -> None:
    fake.ignore_wait = True
    h = client.submit("t")
    with pytest.raises(taskwire.RunTimeoutError):
        h.wait(timeout=0.5)
    assert len([c for c in fake.calls if c.method == "GetStatus"]) < 10


def test_wait_retries_unavailable(client: taskwire.Client, fake: FakeBroker) -> None:
    h = client.submit("t")
    fake.complete(h.id, 1)
    fake.fail_next["GetStatus"] = (grpc.StatusCode.UNAVAILABLE, "nats down")
    assert h.result(timeout=5) == 1


# -- RPC error mapping -------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, taskwire.InvalidArgumentError),
        (grpc.StatusCode.NOT_FOUND, taskwire.NotFoundError),
        (grpc.StatusCode.FAILED_PRECONDITION, taskwire.FailedPreconditionError),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, taskwire.ResourceExhaustedError),
        (grpc.StatusCode.UNAVAILABLE, taskwire.UnavailableError),
        (grpc.StatusCode.UNAUTHENTICATED, taskwire.UnauthenticatedError),
        (grpc.StatusCode.PERMISSION_DENIED, taskwire.PermissionDeniedError),
        (grpc.StatusCode.INTERNAL, taskwire.InternalError),
        (grpc.StatusCode.ABORTED, taskwire.RpcError),
    ],
)
def test_error_mapping(fake: FakeBroker, code: grpc.StatusCode, cls: type) -> None:
    fake.fail_next["Submit"] = (code, "something about args")
    with taskwire.Client(fake.address, timeout=5, call_retry=None) as client, pytest.raises(cls) as info:
        client.submit("t")
    err = info.value
    assert type(err) is cls
    assert isinstance(err, taskwire.RpcError) and isinstance(err, taskwire.TaskwireError)
    assert err.code == code
    assert err.message == "something about args" == err.details
    assert str(err) == f"{code.name}: something about args"
    assert err.retryable == (code == grpc.StatusCode.UNAVAILABLE)
    assert err.attempts == 1


def test_real_broker_errors(client: taskwire.Client, fake: FakeBroker) -> None:
    with pytest.raises(taskwire.InvalidArgumentError, match="task"):
        client.submit("bad task!")
    with pytest.raises(taskwire.InvalidArgumentError, match="args"):
        client.submit("echo", payload=taskwire.RawPayload("application/json", b"{not json"))
    with pytest.raises(taskwire.ResourceExhaustedError):
        client.submit("echo", "a" * 2_000_000)
    missing = "01890000-0000-7000-8000-000000000000"
    with pytest.raises(taskwire.NotFoundError) as info:
        client.handle(missing).status()
    assert info.value.is_not_found and not info.value.is_invalid_argument
    with pytest.raises(taskwire.TaskwireError) as info2:
        client.cancel(missing)
    assert info2.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(taskwire.InvalidArgumentError, match="run_id"):
        client.get_run("not-a-run-id")
    h = client.submit("t")
    fake.complete(h.id, 1)
    with pytest.raises(taskwire.FailedPreconditionError):
        h.cancel()


def test_from_rpc_error_directly() -> None:
    class Fake(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.NOT_FOUND

        def details(self) -> str:
            return "gone"

    err = taskwire.from_rpc_error(Fake())
    assert isinstance(err, taskwire.NotFoundError) and err.message == "gone"


# -- deadlines, metadata, connection ----------------------------------------


def test_default_deadline_applies(fake: FakeBroker) -> None:
    fake.delay["Submit"] = 1.0
    with taskwire.Client(fake.address, timeout=0.2) as c:
        t0 = time.monotonic()
        with pytest.raises(taskwire.DeadlineExceededError) as info:
            c.submit("t")
        assert time.monotonic() - t0 < 0.9
        assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


def test_per_call_deadline_override(fake: FakeBroker) -> None:
    fake.delay["ListRuns"] = 0.5
    with taskwire.Client(fake.address, timeout=0.1) as c:
        assert c.list_runs(rpc_timeout=3).runs == []
        with pytest.raises(taskwire.DeadlineExceededError):
            c.list_runs()


def test_every_call_has_a_deadline(client: taskwire.Client, fake: FakeBroker) -> None:
    h = client.submit("t")
    client.submit_batch([taskwire.call("t")])
    h.status()
    client.list_runs()
    h.cancel()
    for call in fake.calls:
        assert call.time_remaining is not None and 4 < call.time_remaining <= 5.2, call.method


def test_status_wait_extends_deadline(client: taskwire.Client, fake: FakeBroker) -> None:
    h = client.submit("t")
    fake.complete_later(h.id, 1, 0.3)
    run = h.status(wait=20)
    assert run.state is taskwire.RunState.COMPLETED
    call = fake.last("GetStatus")
    assert call.request.wait_timeout_ms == 20000
    assert call.time_remaining is not None and 24 < call.time_remaining <= 25.2


def test_no_deadline_when_disabled(fake: FakeBroker) -> None:
    with taskwire.Client(fake.address, timeout=None) as c:
        c.list_runs()
    remaining = fake.last("ListRuns").time_remaining
    assert remaining is None or remaining > 1e6


def test_token_and_metadata(fake: FakeBroker) -> None:
    with taskwire.Client(fake.address, token="s3cret", metadata={"X-Team": "core"}) as c:
        c.list_runs()
    md = fake.last("ListRuns").metadata
    assert md["authorization"] == "Bearer s3cret"
    assert md["x-team"] == "core"
    assert "taskwire-python/" in md["user-agent"]


def test_address_from_env(monkeypatch: pytest.MonkeyPatch, fake: FakeBroker) -> None:
    monkeypatch.setenv("TASKWIRE_ADDRESS", fake.address)
    with taskwire.Client() as c:
        assert c.address == fake.address
        c.list_runs()
    monkeypatch.delenv("TASKWIRE_ADDRESS")
    assert taskwire.Client().address == "localhost:50051"
    assert taskwire.Client("h:1").address == "h:1"


def test_unreachable_broker_is_unavailable() -> None:
    with taskwire.Client("127.0.0.1:1", timeout=2) as c:
        with pytest.raises(taskwire.UnavailableError) as info:
            c.list_runs()
    assert info.value.is_unavailable


def test_external_channel_is_not_closed(fake: FakeBroker) -> None:
    channel = grpc.insecure_channel(fake.address)
    with taskwire.Client(channel=channel) as c:
        c.list_runs()
    taskwire.Client(channel=channel).list_runs()  # still usable
    channel.close()


# -- batch, list, handle ------------------------------------------------------


def test_submit_batch(client: taskwire.Client, fake: FakeBroker) -> None:
    handles = client.submit_batch(
        [
            taskwire.call("add", 1, 1, queue="q1"),
            ("add", [2, 2]),
            ("echo", ["three"], {"labels": {"k": "v"}}),
        ]
    )
    assert len(handles) == 3
    req = fake.last("SubmitBatch").request
    assert [r.task for r in req.runs] == ["add", "add", "echo"]
    assert [json.loads(r.args.data) for r in req.runs] == [[1, 1], [2, 2], ["three"]]
    assert req.runs[0].options.queue == "q1"
    assert dict(req.runs[2].options.labels) == {"k": "v"}
    assert [h.run.task for h in handles if h.run] == ["add", "add", "echo"]
    assert len({h.id for h in handles}) == 3
    with pytest.raises(TypeError):
        client.submit_batch([42])  # type: ignore[list-item]


def test_list_runs_filters_and_pages(client: taskwire.Client, fake: FakeBroker) -> None:
    ids = [client.submit("a", i).id for i in range(5)]
    client.submit("b")
    fake.complete(ids[0], 0)
    page = client.list_runs(task="a", page_size=2)
    assert [r.id for r in page] == [ids[4], ids[3]] and page.next_page_token
    req = fake.last("ListRuns").request
    assert (req.task, req.page_size) == ("a", 2)
    assert [r.id for r in client.iter_runs(task="a", page_size=2)] == ids[::-1]
    done = client.list_runs(states=[taskwire.RunState.COMPLETED, "RUN_STATE_FAILED", "cancelled"], queue="default")
    assert [r.id for r in done] == [ids[0]]
    assert list(fake.last("ListRuns").request.states) == [5, 6, 7]


def test_handle_from_id(client: taskwire.Client, fake: FakeBroker) -> None:
    rid = client.submit("add", 1, 2).id
    fake.complete(rid, 3)
    h = client.handle(rid)
    assert h.run is None and h.id == rid
    assert h.result(timeout=1) == 3
    assert repr(h) == f"RunHandle(id={rid!r})"


# -- events ------------------------------------------------------------------


def _types(events: list) -> list[str]:
    return [e.type.name for e in events]


def test_events_full_history_until_terminal(client: taskwire.Client, fake: FakeBroker) -> None:
    h = client.submit("add", 5, 6)
    fake.start_run(h.id)
    fake.log(h.id, "working")
    timer = fake.complete_later(h.id, 11, 0.3)
    events = list(h.events(timeout=10))
    timer.join()
    assert _types(events) == ["SUBMITTED", "STARTED", "LOG", "COMPLETED"]
    assert all(e.run_id == h.id and e.task == "add" for e in events)
    cursors = [e.cursor for e in events]
    assert cursors == sorted(cursors) and len(set(cursors)) == 4
    assert events[2].log is not None and events[2].log.message == "working"
    last = events[-1]
    assert last.state is taskwire.RunState.COMPLETED and last.run is not None and last.run.result == 11
    req = fake.last("StreamEvents").request
    assert list(req.run_ids) == [h.id] and req.until_terminal and req.after_cursor == ""


def test_events_resume_after_cursor(client: taskwire.Client, fake: FakeBroker) -> None:
    h = client.submit("add", 5, 6)
    fake.complete(h.id, 11)
    first = list(h.events())
    resumed = list(h.events(after_cursor=first[0].cursor))
    assert _types(resumed) == ["STARTED", "COMPLETED"]
    assert fake.last("StreamEvents").request.after_cursor == first[0].cursor


def test_events_reconnect_resumes_without_duplicates(client: taskwire.Client, fake: FakeBroker) -> None:
    h = client.submit("add", 1, 1)
    fake.start_run(h.id)
    fake.drop_stream_after = 1
    timer = fake.complete_later(h.id, 2, 0.3)
    stream = h.events(timeout=10)
    events = list(stream)
    timer.join()
    assert _types(events) == ["SUBMITTED", "STARTED", "COMPLETED"]
    streams = [c.request for c in fake.calls if c.method == "StreamEvents"]
    assert len(streams) == 2
    assert streams[1].after_cursor == events[0].cursor
    assert stream.cursor == events[-1].cursor


def test_events_no_reconnect_raises(client: taskwire.Client, fake: FakeBroker) -> None:
    h = client.submit("t")
    fake.drop_stream_after = 1
    stream = h.events(reconnect=False, timeout=10)
    assert next(stream).type is taskwire.EventType.SUBMITTED
    with pytest.raises(taskwire.UnavailableError):
        next(stream)
    with pytest.raises(StopIteration):
        next(stream)


def test_events_heartbeats_and_close(client: taskwire.Client, fake: FakeBroker) -> None:
    h = client.submit("t")
    beats: list[taskwire.Heartbeat] = []
    got = threading.Event()

    def on_heartbeat(hb: taskwire.Heartbeat) -> None:
        beats.append(hb)
        got.set()

    with h.events(heartbeat_interval_ms=100, on_heartbeat=on_heartbeat, timeout=10) as stream:
        first = next(stream)
        assert first.type is taskwire.EventType.SUBMITTED
        threading.Timer(0.5, stream.close).start()
        assert list(stream) == []  # closed while idle: ends quietly
    assert beats and beats[0].cursor and beats[0].time is not None
    assert stream.cursor == beats[-1].cursor
    with pytest.raises(StopIteration):
        next(stream)
    assert fake.last("StreamEvents").request.heartbeat_interval_ms == 100


def test_events_close_from_another_thread(client: taskwire.Client) -> None:
    h = client.submit("t")
    stream = h.events(heartbeat_interval_ms=5000)
    assert next(stream).type is taskwire.EventType.SUBMITTED
    threading.Timer(0.2, stream.close).start()
    t0 = time.monotonic()
    assert list(stream) == []
    assert time.monotonic() - t0 < 3


def test_events_stream_filters_and_new_only(client: taskwire.Client, fake: FakeBroker) -> None:
    before = client.submit("a")
    stream = client.events(tasks=["b"], states=["RUN_STATE_COMPLETED"], heartbeat_interval_ms=100, timeout=10)
    req_seen = threading.Event()

    def produce() -> None:
        while not any(c.method == "StreamEvents" for c in fake.calls):
            time.sleep(0.01)
        time.sleep(0.1)
        fake.complete(before.id, 0)
        b = client.submit("b")
        fake.complete(b.id, 1)
        req_seen.set()

    threading.Thread(target=produce, daemon=True).start()
    ev = next(stream)
    stream.close()
    assert ev.task == "b" and ev.type is taskwire.EventType.COMPLETED
    req = fake.last("StreamEvents").request
    assert list(req.tasks) == ["b"] and list(req.states) == [taskwire.RunState.COMPLETED]


def test_stream_error_is_mapped(client: taskwire.Client) -> None:
    with pytest.raises(taskwire.InvalidArgumentError, match="after_cursor"):
        next(client.events(after_cursor="not-a-cursor", timeout=5))


def test_stream_timeout(client: taskwire.Client) -> None:
    h = client.submit("t")
    stream = h.events(timeout=0.3, heartbeat_interval_ms=5000)
    next(stream)
    with pytest.raises(taskwire.DeadlineExceededError):
        next(stream)


# -- models --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("py_enum", "proto_enum", "prefix"),
    [
        (taskwire.RunState, types_pb2.RunState, "RUN_STATE_"),
        (taskwire.EventType, types_pb2.EventType, "EVENT_TYPE_"),
        (taskwire.AttemptOutcome, types_pb2.AttemptOutcome, "ATTEMPT_OUTCOME_"),
    ],
)
def test_enums_match_proto(py_enum, proto_enum, prefix: str) -> None:  # type: ignore[no-untyped-def]
    assert {prefix + m.name: m.value for m in py_enum} == dict(proto_enum.items())


def test_run_state_parse() -> None:
    assert taskwire.RunState.parse("RUN_STATE_RUNNING") is taskwire.RunState.RUNNING
    assert taskwire.RunState.parse("failed") is taskwire.RunState.FAILED
    assert taskwire.RunState.parse(5) is taskwire.RunState.COMPLETED
    assert taskwire.RunState.COMPLETED.proto_name == "RUN_STATE_COMPLETED"
    assert taskwire.RunState.CANCELLED.is_terminal and not taskwire.RunState.RUNNING.is_terminal


def test_unknown_enum_values_survive() -> None:
    run = taskwire.Run(types_pb2.TaskRun(id="x", state=99))  # type: ignore[arg-type]
    assert run.state == 99 and not run.is_terminal
    assert "state=99" in repr(run)


def test_payload_helpers() -> None:
    p = taskwire.encode_args([1, "é"])
    assert p.content_type == "application/json" and p.data == '[1,"é"]'.encode()
    assert taskwire.decode_payload(p) == [1, "é"]
    assert taskwire.decode_payload(types_pb2.Payload(data=b'{"a":1}')) == {"a": 1}
    assert taskwire.decode_payload(types_pb2.Payload(content_type="application/json; charset=utf-8", data=b"2")) == 2
    assert taskwire.decode_payload(types_pb2.Payload()) is None
    assert taskwire.encode_value({"x": None}).data == b'{"x":null}'


def test_schedules_round_trip(client: taskwire.Client, fake: FakeBroker) -> None:
    s = client.create_schedule("nightly", "0 2 * * *", "add", 1, 2, timezone="Europe/Paris", queue="batch")
    req: taskwire_pb2.CreateScheduleRequest = fake.last("CreateSchedule").request
    assert req.schedule.name == "nightly" and req.schedule.cron == "0 2 * * *"
    assert req.schedule.timezone == "Europe/Paris"
    assert req.schedule.run.task == "add" and json.loads(req.schedule.run.args.data) == [1, 2]
    assert req.schedule.run.options.queue == "batch"
    assert s.name == "nightly"
    assert [x.name for x in client.list_schedules()] == ["nightly"]
    assert client.pause_schedule("nightly").paused is True
    assert client.resume_schedule("nightly").paused is False
    client.delete_schedule("nightly")
    assert client.list_schedules() == []
    with pytest.raises(taskwire.NotFoundError):
        client.delete_schedule("nightly")
