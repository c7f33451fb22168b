"""The bench's no-op task for the Python worker (make bench, the "workers by
language" phase): bench_noop returns the wall-clock time in ms at which it
started, as bench/src/tasks.ts does.

    python -m taskwire worker bench/src/tasks.py --concurrency 64
"""

import time
from typing import Any

import taskwire


@taskwire.task(name="bench_noop")
async def bench_noop(_payload: Any) -> float:
    return time.time() * 1000
