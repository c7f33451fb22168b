"""``python -m taskwire worker MODULE [MODULE...]``: serve the tasks of Python modules.

MODULE is a dotted module name (``myapp.tasks``, importable from the current
directory) or a ``.py`` file. Every function decorated with
``@taskwire.task(name=...)`` at a module's top level is served. Stops
gracefully on SIGTERM or Ctrl-C: no new runs, in-flight runs get the
shutdown grace, then are cancelled.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from .errors import TaskwireError
from .worker import Worker, load_tasks


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m taskwire", description="taskwire for Python")
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="serve the tasks of Python modules", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    w.add_argument("modules", nargs="+", metavar="MODULE", help="module name (myapp.tasks) or .py file defining @taskwire.task functions")
    w.add_argument("--concurrency", type=int, default=None, help="runs executed at once (default TASKWIRE_CONCURRENCY or 10)")
    w.add_argument("--address", default=None, help="broker host:port (default TASKWIRE_ADDRESS or localhost:50051)")
    w.add_argument("--queues", default=None, help="queues to serve, comma separated (default TASKWIRE_QUEUES or default)")
    w.add_argument("--worker-id", default=None, help="id recorded on attempts (default <host>-<pid>-<random>)")
    w.add_argument("--shutdown-grace", type=float, default=None, help="seconds in-flight runs get on SIGTERM (default TASKWIRE_SHUTDOWN_GRACE_MS or 30)")
    w.add_argument("--log-level", default=None, help="debug, info, warning, error (default TASKWIRE_LOG_LEVEL or info)")
    return p


def main(argv: list[str] | None = None) -> int:
    opts = _parser().parse_args(argv)
    import os

    level = (opts.log_level or os.environ.get("TASKWIRE_LOG_LEVEL") or "info").upper()
    logging.basicConfig(level={"WARN": "WARNING", "SILENT": "CRITICAL", "FATAL": "CRITICAL", "TRACE": "DEBUG"}.get(level, level), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        tasks = load_tasks(opts.modules)
        queues = [q.strip() for q in opts.queues.split(",") if q.strip()] if opts.queues else None
        worker = Worker(tasks, address=opts.address, concurrency=opts.concurrency, queues=queues, worker_id=opts.worker_id, shutdown_grace=opts.shutdown_grace)
        asyncio.run(worker.run(handle_signals=True))
    except (TaskwireError, ValueError, ImportError) as err:
        print(f"taskwire worker: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
