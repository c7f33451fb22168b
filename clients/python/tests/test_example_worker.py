"""examples/python-worker, run as its README says: `python -m taskwire worker
examples/python-worker/tasks.py` against the live broker at TASKWIRE_ADDRESS
(skipped without one), its tasks submitted by name, then SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

import taskwire

ADDRESS = os.environ.get("TASKWIRE_ADDRESS")
REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples/python-worker/tasks.py"

pytestmark = pytest.mark.skipif(not ADDRESS, reason="TASKWIRE_ADDRESS is not set: the example needs a live broker")


@pytest.fixture(scope="module")
def worker() -> Iterator[subprocess.Popen[str]]:
    env = {**os.environ, "TASKWIRE_ADDRESS": ADDRESS or "", "TASKWIRE_SHUTDOWN_GRACE_MS": "2000"}
    proc = subprocess.Popen([sys.executable, "-m", "taskwire", "worker", str(EXAMPLE), "--concurrency", "4"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_python_worker_example_serves_its_tasks_and_stops_on_sigterm(worker: subprocess.Popen[str]) -> None:
    with taskwire.Client(ADDRESS, timeout=15) as client:
        counted = client.submit("py-word-count", "the quick brown fox")
        assert counted.result(timeout=30) == {"words": 4, "attempt": 1}
        assert [line.message for line in counted.status().logs] == ["counting the words of 19 characters"]
        assert client.submit("py-fetch-title", "https://example.com").result(timeout=30) == "Title of https://example.com"
        with pytest.raises(taskwire.RunFailedError) as e:
            client.submit("py-fetch-title", "ftp://example.com").result(timeout=30)
        assert e.value.failure is not None and e.value.failure.type == "BadUrl"
    worker.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    while worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    out = worker.stdout.read() if worker.stdout else ""
    assert worker.returncode == 0, out
