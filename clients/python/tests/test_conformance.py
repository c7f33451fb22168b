"""Conformance runner: plays proto/conformance/scenarios.json against a live broker.

Needs TASKWIRE_ADDRESS (e.g. 127.0.0.1:50051) and the conformance worker
(examples/conformance/tasks.ts) serving the cf-* tasks; skipped otherwise.
The op semantics are in proto/conformance/README.md.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, NoReturn

import pytest

import taskwire
from taskwire.v1 import taskwire_pb2

SCENARIOS_PATH = (Path(__file__).resolve().parent / "../../../proto/conformance/scenarios.json").resolve()
SCENARIOS: list[dict[str, Any]] = json.loads(SCENARIOS_PATH.read_text(encoding="utf-8"))["scenarios"]
# Auth scenarios ("broker": "auth") name their caller by a token name from
# tokens.json, which the auth broker (TASKWIRE_AUTH_ADDRESS) loads as its
# static tokens file; "(none)" sends no token, "(unknown)" an unknown one.
TOKENS_PATH = SCENARIOS_PATH.parent / "tokens.json"
TOKENS: dict[str, str] = {e["name"]: t for t, e in json.loads(TOKENS_PATH.read_text(encoding="utf-8")).items()}
TOKENS["(none)"] = ""
TOKENS["(unknown)"] = "cf-unknown-token-0123456789abcdef"
# Unique per runner invocation, so idempotency keys never collide between
# languages or runs.
UNIQ = f"py-{uuid.uuid4().hex[:16]}"
STREAM_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def live_client() -> Iterator[taskwire.Client]:
    address = os.environ.get("TASKWIRE_ADDRESS")
    if not address:
        pytest.skip(
            "TASKWIRE_ADDRESS is not set: conformance scenarios need a live broker "
            "with the conformance worker (e.g. TASKWIRE_ADDRESS=127.0.0.1:50051)"
        )
    with taskwire.Client(address, timeout=15) as client:
        yield client


@pytest.fixture(scope="module")
def auth_clients() -> Iterator[Any]:
    address = os.environ.get("TASKWIRE_AUTH_ADDRESS")
    if not address:
        pytest.skip("TASKWIRE_AUTH_ADDRESS is not set: the auth scenarios need a broker with proto/conformance/tokens.json as its tokens file")
    clients: dict[str, taskwire.Client] = {}
    # The auth broker serves mTLS: ca.crt, client.crt, client.key in TASKWIRE_AUTH_TLS_DIR.
    tls_dir = os.environ.get("TASKWIRE_AUTH_TLS_DIR")
    tls = taskwire.TLSConfig(ca=f"{tls_dir}/ca.crt", cert=f"{tls_dir}/client.crt", key=f"{tls_dir}/client.key") if tls_dir else False

    def client_for(name: str | None) -> taskwire.Client:
        key = name or "(none)"
        if key not in TOKENS:
            pytest.fail(f"unknown token name {key!r} (proto/conformance/tokens.json)")
        if key not in clients:
            # No retries: the errors are what these scenarios check.
            clients[key] = taskwire.Client(address, tls=tls, token=TOKENS[key], timeout=15, call_retry=None)
        return clients[key]

    yield client_for
    for c in clients.values():
        c.close()


def _subst(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("${uniq}", UNIQ)
    if isinstance(value, list):
        return [_subst(v) for v in value]
    if isinstance(value, dict):
        return {k: _subst(v) for k, v in value.items()}
    return value


def _options(raw: dict[str, Any] | None) -> dict[str, Any]:
    """Scenario options use proto field names, which are the client's keyword names."""
    opts = dict(raw or {})
    if isinstance(opts.get("scheduled_at"), str):
        opts["scheduled_at"] = datetime.fromisoformat(opts["scheduled_at"].replace("Z", "+00:00"))
    return opts


def _cursor_key(cursors: list[str]) -> list[Any]:
    # Cursors are opaque; compare as numbers when they all are, else as strings.
    if all(c.isdigit() for c in cursors):
        return [int(c) for c in cursors]
    return list(cursors)


def _event_name(event: taskwire.Event) -> str:
    t = event.type
    return t.proto_name if isinstance(t, taskwire.EventType) else f"EVENT_TYPE_{int(t)}"


def _is_subsequence(needle: list[str], hay: list[str]) -> bool:
    it = iter(hay)
    return all(any(h == n for h in it) for n in needle)


class Runner:
    def __init__(self, client: taskwire.Client, name: str, client_for: Any = None, token: str | None = None) -> None:
        self.client = client
        self.client_for = client_for
        self.token = token
        self.name = name
        self.vars: dict[str, str] = {}
        self.where = ""

    def fail(self, msg: str) -> NoReturn:
        pytest.fail(f"[{self.name}] {self.where}: {msg}", pytrace=False)

    def run_id(self, step: dict[str, Any]) -> str:
        if "run_id" in step:
            return step["run_id"]
        name = step["run"]
        if name not in self.vars:
            self.fail(f"unknown run variable {name!r}")
        return self.vars[name]

    def expect(self, step: dict[str, Any], fn: Any) -> Any:
        """Call fn(); with expect_error, it must raise that gRPC code (and message)."""
        want = step.get("expect_error")
        if not want:
            return fn()
        try:
            fn()
        except taskwire.TaskwireError as err:
            self.check_error(step, err)
            return None
        self.fail(f"expected error {want}, the call succeeded")

    def check_error(self, step: dict[str, Any], err: taskwire.TaskwireError) -> None:
        want = step["expect_error"]
        got = err.code.name if err.code is not None else type(err).__name__
        if got != want:
            self.fail(f"expected error {want}, got {got}: {err.message}")
        contains = step.get("error_contains")
        if contains and contains.lower() not in err.message.lower():
            self.fail(f"error message {err.message!r} does not contain {contains!r}")

    def history(self, run_id: str, after_cursor: str | None = None) -> list[taskwire.Event]:
        stream = self.client.events(
            run_ids=[run_id], after_cursor=after_cursor, until_terminal=True, timeout=STREAM_TIMEOUT
        )
        with stream:
            events = [e for e in stream if isinstance(e, taskwire.Event)]
        cursors = [e.cursor for e in events]
        keys = _cursor_key(cursors)
        if any(not c for c in cursors) or any(a >= b for a, b in zip(keys, keys[1:])):
            self.fail(f"cursors not strictly increasing: {cursors}")
        return events

    # -- ops ---------------------------------------------------------------

    def op_submit(self, step: dict[str, Any]) -> None:
        def go() -> taskwire.RunHandle:
            return self.client.submit(step["task"], *step.get("args", []), **_options(step.get("options")))

        handle = self.expect(step, go)
        if handle is not None and "as" in step:
            self.vars[step["as"]] = handle.id

    def op_submit_raw(self, step: dict[str, Any]) -> None:
        if "data" in step:
            data = step["data"].encode("utf-8")
        else:
            size = int(step["data_size"])
            data = b'"' + b"a" * (size - 2) + b'"'
        payload = taskwire.RawPayload(step["content_type"], data)
        handle = self.expect(step, lambda: self.client.submit(step["task"], payload=payload))
        if handle is not None and "as" in step:
            self.vars[step["as"]] = handle.id

    def op_submit_batch(self, step: dict[str, Any]) -> None:
        items = [taskwire.call(i["task"], *i.get("args", []), **_options(i.get("options"))) for i in step["items"]]
        handles = self.expect(step, lambda: self.client.submit_batch(items))
        if handles is None:
            return
        names = step.get("as", [])
        if len(handles) != len(items):
            self.fail(f"batch returned {len(handles)} runs for {len(items)} items")
        for name, handle in zip(names, handles):
            self.vars[name] = handle.id

    def op_get_status(self, step: dict[str, Any]) -> None:
        run_id = self.run_id(step)
        wait_ms = int(step.get("wait_timeout_ms", 0))
        if wait_ms >= 0:
            self.expect(step, lambda: self.client.get_run(run_id, wait=wait_ms / 1000))
            return

        # Negative waits are invalid; send the raw value so the broker decides.
        def raw() -> None:
            import grpc

            try:
                self.client.stub.GetStatus(
                    taskwire_pb2.GetStatusRequest(run_id=run_id, wait_timeout_ms=wait_ms),
                    timeout=self.client.timeout,
                    metadata=self.client.metadata,
                )
            except grpc.RpcError as err:
                raise taskwire.from_rpc_error(err) from None

        self.expect(step, raw)

    def op_wait(self, step: dict[str, Any]) -> None:
        run_id = self.run_id(step)
        try:
            self.client.wait(run_id, timeout=step["timeout_ms"] / 1000)
        except taskwire.RunTimeoutError as err:
            self.fail(f"run {run_id} not terminal after {step['timeout_ms']} ms (last: {err.run!r})")

    def op_wait_state(self, step: dict[str, Any]) -> None:
        run_id = self.run_id(step)
        want = taskwire.RunState.parse(step["state"])
        deadline = time.monotonic() + step["timeout_ms"] / 1000
        while True:
            run = self.client.get_run(run_id)
            if run.state == want:
                return
            if run.is_terminal or time.monotonic() > deadline:
                self.fail(f"run {run_id} never reached {want.proto_name} (now {run!r})")
            time.sleep(0.05)

    def op_expect_status(self, step: dict[str, Any]) -> None:
        run = self.client.get_run(self.run_id(step))
        if "state" in step:
            want = taskwire.RunState.parse(step["state"])
            if run.state != want:
                extra = f" error={run.error}" if run.error else ""
                self.fail(f"state {run.state!r} != {want.proto_name}{extra}")
        if "result" in step:
            got = run.result
            if json.dumps(got, sort_keys=True) != json.dumps(step["result"], sort_keys=True):
                self.fail(f"result {got!r} != {step['result']!r}")
        if "result_length" in step:
            got = run.result
            if not isinstance(got, str) or len(got) != step["result_length"]:
                desc = len(got) if isinstance(got, str) else type(got).__name__
                self.fail(f"result length {desc} != {step['result_length']}")
        if "error_type" in step:
            got_type = run.error.type if run.error else None
            if got_type != step["error_type"]:
                self.fail(f"error type {got_type!r} != {step['error_type']!r}")
        if "error_message_contains" in step:
            msg = run.error.message if run.error else ""
            if step["error_message_contains"].lower() not in msg.lower():
                self.fail(f"error message {msg!r} does not contain {step['error_message_contains']!r}")
        if "attempt" in step and run.attempt != step["attempt"]:
            self.fail(f"attempt {run.attempt} != {step['attempt']}")
        if "attempts" in step and len(run.proto.attempts) != step["attempts"]:
            self.fail(f"len(attempts) {len(run.proto.attempts)} != {step['attempts']}")
        if "namespace" in step and run.proto.namespace != step["namespace"]:
            self.fail(f"namespace {run.proto.namespace!r} != {step['namespace']!r}")
        if "log_messages" in step:
            got_lines = [line.message for line in run.logs]
            if got_lines != step["log_messages"]:
                self.fail(f"log messages {got_lines!r} != {step['log_messages']!r}")
        if "progress" in step:
            got_progress = run.progress.fraction if run.progress else None
            if got_progress != step["progress"]:
                self.fail(f"progress {got_progress!r} != {step['progress']!r}")

    def op_cancel(self, step: dict[str, Any]) -> None:
        run_id = self.run_id(step)
        self.expect(step, lambda: self.client.cancel(run_id))

    def op_retry(self, step: dict[str, Any]) -> None:
        run_id = self.run_id(step)
        self.expect(step, lambda: self.client.retry(run_id))

    def op_expect_same_id(self, step: dict[str, Any]) -> None:
        ids = {name: self.vars.get(name) for name in step["runs"]}
        if len(set(ids.values())) != 1 or None in ids.values():
            self.fail(f"run ids differ: {ids}")

    def op_expect_different_id(self, step: dict[str, Any]) -> None:
        ids = [self.vars.get(name) for name in step["runs"]]
        if None in ids or len(set(ids)) != len(ids):
            self.fail(f"run ids are not all different: {ids}")

    def op_expect_events(self, step: dict[str, Any]) -> None:
        types = [_event_name(e)
                 for e in self.history(self.run_id(step))]
        if "exactly" in step and types != step["exactly"]:
            self.fail(f"events {types} != {step['exactly']}")
        if "contains_in_order" in step and not _is_subsequence(step["contains_in_order"], types):
            self.fail(f"events {types} do not contain {step['contains_in_order']} in order")

    def op_expect_resume(self, step: dict[str, Any]) -> None:
        run_id = self.run_id(step)
        full = self.history(run_id)
        idx = step["after_index"]
        if idx >= len(full):
            self.fail(f"only {len(full)} events, cannot resume after #{idx}")
        resumed = self.history(run_id, after_cursor=full[idx].cursor)
        types = [_event_name(e) for e in resumed]
        if types != step["exactly"]:
            self.fail(f"resumed events {types} != {step['exactly']}")

    def op_stream_events(self, step: dict[str, Any]) -> None:
        stream = self.client.events(after_cursor=step["after_cursor"], timeout=15, reconnect=False)
        try:
            with stream:
                for _ in stream:
                    pass
        except taskwire.TaskwireError as err:
            self.check_error(step, err)
            return
        self.fail(f"stream ended without the expected {step['expect_error']} error")

    def op_expect_listed(self, step: dict[str, Any]) -> None:
        run_id = self.run_id(step)
        page = self.client.list_runs(task=step["task"], page_size=100)
        if run_id not in {r.id for r in page.runs}:
            self.fail(f"run {run_id} not in the first ListRuns page of task {step['task']!r}")

    def op_expect_not_listed(self, step: dict[str, Any]) -> None:
        run_id = self.run_id(step)
        page = self.client.list_runs(task=step["task"], page_size=1000)
        if run_id in {r.id for r in page.runs}:
            self.fail(f"run {run_id} is listed for this caller, but belongs to another namespace")

    def play(self, steps: list[dict[str, Any]]) -> None:
        for i, raw in enumerate(steps):
            step = _subst(raw)
            self.where = f"step {i} ({step['op']})"
            if self.client_for is not None:
                self.client = self.client_for(step.get("token", self.token))
            handler = getattr(self, "op_" + step["op"], None)
            if handler is None:
                self.fail(f"unknown op {step['op']!r}")
            handler(step)


def test_scenarios_file_is_well_formed() -> None:
    names = [s["name"] for s in SCENARIOS]
    assert names and len(names) == len(set(names))
    for scenario in SCENARIOS:
        for step in scenario["steps"]:
            assert hasattr(Runner, "op_" + step["op"]), f"{scenario['name']}: op {step['op']} not implemented"


OPEN = [s for s in SCENARIOS if s.get("broker") != "auth"]
AUTH = [s for s in SCENARIOS if s.get("broker") == "auth"]


@pytest.mark.parametrize("scenario", OPEN, ids=[s["name"] for s in OPEN])
def test_scenario(scenario: dict[str, Any], live_client: taskwire.Client) -> None:
    Runner(live_client, scenario["name"]).play(scenario["steps"])


@pytest.mark.parametrize("scenario", AUTH, ids=[s["name"] for s in AUTH])
def test_auth_scenario(scenario: dict[str, Any], auth_clients: Any) -> None:
    Runner(auth_clients(scenario.get("token")), scenario["name"], auth_clients, scenario.get("token")).play(scenario["steps"])
