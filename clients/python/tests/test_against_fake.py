"""The examples and the conformance runner itself, played against the fake
broker with a simulated worker (so they are checked without a live broker)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from fake_broker import SLEEP, FakeBroker, LogThen
from test_conformance import OPEN, Runner

import taskwire

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


class ConformanceError(Exception):
    pass


class FlakyError(Exception):
    pass


def _fail(args: list[Any], attempt: int) -> Any:
    raise ConformanceError(args[0])


def _flaky(args: list[Any], attempt: int) -> Any:
    if attempt <= args[0]:
        raise FlakyError(f"attempt {attempt}")
    return attempt


CF_TASKS = {
    "add": lambda a, n: a[0] + a[1],
    "cf-echo": lambda a, n: a[0],
    "cf-add": lambda a, n: a[0] + a[1],
    "cf-unicode": lambda a, n: a[0] + " ✓",
    "cf-fail": _fail,
    "cf-flaky": _flaky,
    "cf-sleep": lambda a, n: SLEEP,
    "cf-large": lambda a, n: "x" * a[0],
    "cf-log": lambda a, n: LogThen([f"line {i}" for i in range(a[0])], a[0]),
    "cf-spin": lambda a, n: SLEEP,
}


@pytest.fixture
def sim() -> Iterator[FakeBroker]:
    broker = FakeBroker().start()
    broker.serve(CF_TASKS)
    try:
        yield broker
    finally:
        broker.stop()


# The fake broker has no auth: the auth scenarios run only against the real one.
@pytest.mark.parametrize("scenario", OPEN, ids=[s["name"] for s in OPEN])
def test_conformance_runner_against_fake(scenario: dict[str, Any], sim: FakeBroker) -> None:
    with taskwire.Client(sim.address, timeout=10) as client:
        Runner(client, scenario["name"]).play(scenario["steps"])


def _run(args: list[str], address: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TASKWIRE_ADDRESS=address, PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_interop_submit_and_result(sim: FakeBroker) -> None:
    p = _run([str(EXAMPLES / "interop.py"), "submit", "cf-unicode", '["héllo"]'], sim.address)
    assert p.returncode == 0, p.stderr
    run_id = p.stdout.strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", run_id)
    p = _run([str(EXAMPLES / "interop.py"), "result", run_id, "--timeout", "10"], sim.address)
    assert p.returncode == 0, p.stderr
    assert p.stdout == '"héllo ✓"\n'
    # errors: failed run → 1, unknown run → 2, timeout → 3
    failed = _run([str(EXAMPLES / "interop.py"), "submit", "cf-fail", '["x"]'], sim.address).stdout.strip()
    assert _run([str(EXAMPLES / "interop.py"), "result", failed], sim.address).returncode == 1
    p = _run([str(EXAMPLES / "interop.py"), "result", "01890000-0000-7000-8000-000000000000"], sim.address)
    assert p.returncode == 2 and "NOT_FOUND" in p.stderr
    slow = _run([str(EXAMPLES / "interop.py"), "submit", "cf-sleep", "[1]"], sim.address).stdout.strip()
    assert _run([str(EXAMPLES / "interop.py"), "result", slow, "--timeout", "0.2"], sim.address).returncode == 3


def test_interop_object_args(sim: FakeBroker) -> None:
    with taskwire.Client(sim.address) as client:
        p = _run([str(EXAMPLES / "interop.py"), "submit", "cf-echo", '{"a": 1}'], sim.address)
        assert client.result(p.stdout.strip(), timeout=10) == {"a": 1}


def test_quickstart(sim: FakeBroker) -> None:
    t0 = time.monotonic()
    p = _run([str(EXAMPLES / "quickstart.py")], sim.address)
    assert p.returncode == 0, p.stderr
    assert "result: 5" in p.stdout and "async result: 5" in p.stdout
    assert "SUBMITTED" in p.stdout and "COMPLETED" in p.stdout
    assert time.monotonic() - t0 < 30


def _dedent(block: str) -> str:
    lines = [line for line in block.splitlines()]
    indent = min((len(l) - len(l.lstrip()) for l in lines if l.strip()), default=0)
    return "\n".join(l[indent:] for l in lines).strip()


def test_readme_snippets_come_from_quickstart() -> None:
    source = (EXAMPLES / "quickstart.py").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"# \[(\w+)\]\n(.*?)\n\s*# \[/\1\]", source, re.S))
    assert set(sections) == {"submit", "result", "events", "async"}
    for name, body in sections.items():
        assert _dedent(body) in readme, f"README is missing the [{name}] snippet of quickstart.py"
