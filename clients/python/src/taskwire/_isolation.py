"""``isolation="process"``: one attempt in a child process, terminated on timeout or cancel.

The child is started with the ``spawn`` method (a fresh interpreter: forking
a process that runs gRPC threads is unsafe). It imports the task's module —
by name, or from its file when it was loaded from a path — runs the
function, and reports log lines, progress and the outcome over a pipe.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import multiprocessing
import os
import sys
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Callable

from . import payload as _payload
from .context import TaskContext, TaskLogger, _set_current

__all__ = ["ModuleRef", "module_ref", "run_in_process", "ProcessOutcome"]


@dataclass(frozen=True)
class ModuleRef:
    """Where a child process finds a task: its module's name and, if loaded from a path, its file."""

    name: str
    file: str | None


def module_ref(fn: Callable[..., Any]) -> ModuleRef:
    name = getattr(fn, "__module__", None) or "__main__"
    mod = sys.modules.get(name)
    file = getattr(mod, "__file__", None)
    return ModuleRef(name, os.path.abspath(file) if file else None)


#: What the child reports: ("ok", content_type, data) | ("error", type, message, stack, retryable, retry_after_ms | None)
ProcessOutcome = tuple[Any, ...]


def _load(ref: ModuleRef) -> Any:
    if ref.name != "__main__":
        try:
            return importlib.import_module(ref.name)
        except ImportError:
            if not ref.file:
                raise
    if not ref.file:
        raise ImportError(f"cannot find the module of the task ({ref.name}) in the child process")
    # A script or a file given by path: load it under a name of its own, so
    # an `if __name__ == "__main__":` block does not run again.
    spec = importlib.util.spec_from_file_location(f"taskwire_isolated_{abs(hash(ref.file))}", ref.file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {ref.file}")
    sys.path.insert(0, os.path.dirname(ref.file))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _child_main(conn: Connection, ref: ModuleRef, task_name: str, args: list[Any], info: dict[str, Any]) -> None:
    """The child process: run one attempt, report over ``conn``."""
    from .task import NonRetryableError, RetryAfterError, Task

    try:
        mod = _load(ref)
        found = [v for v in vars(mod).values() if isinstance(v, Task) and v.name == task_name]
        if not found:
            raise LookupError(f"task {task_name!r} is not defined at the top level of module {ref.name}")
        t = found[0]
        ctx = TaskContext(
            run_id=info["run_id"],
            task=task_name,
            attempt=info["attempt"],
            deadline=info["deadline"],
            labels=info["labels"],
            log=TaskLogger(lambda level, msg: conn.send(("log", level, msg)), info["run_id"], info["attempt"]),
            _progress=lambda f, m: conn.send(("progress", f, m)),
        )
        _set_current(ctx)
        value = t.fn(*args)
        try:
            encoded = _payload.encode_value(value)
        except (TypeError, ValueError) as err:
            conn.send(("error", "ResultNotSerializable", f"result is not JSON-serialisable: {err}", "", False, None))
            return
        conn.send(("ok", encoded.content_type, bytes(encoded.data)))
    except BaseException as exc:  # noqa: BLE001 - everything the task raises is its failure
        retryable = not isinstance(exc, NonRetryableError) and getattr(exc, "retryable", True) is not False
        retry_after = int(round(exc.delay * 1000)) if isinstance(exc, RetryAfterError) else None
        type_name = getattr(exc, "type", None) or type(exc).__name__
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        try:
            conn.send(("error", str(type_name), str(exc), stack, retryable, retry_after))
        except (BrokenPipeError, OSError):
            pass
    finally:
        conn.close()


class ProcessAttempt:
    """A running child process of one attempt."""

    def __init__(self, process: Any, conn: Connection) -> None:
        self.process = process
        self.conn = conn

    def terminate(self, grace: float) -> None:
        """SIGTERM now, SIGKILL after ``grace`` seconds if it is still alive."""
        if self.process.is_alive():
            self.process.terminate()
            loop = asyncio.get_running_loop()
            loop.call_later(grace, self._kill)

    def _kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()


async def run_in_process(
    ref: ModuleRef,
    task_name: str,
    args: list[Any],
    info: dict[str, Any],
    on_log: Callable[[str, str], None],
    on_progress: Callable[[float, str], None],
    started: Callable[[ProcessAttempt], None],
) -> ProcessOutcome | None:
    """Runs the attempt in a child; the outcome, or None when the child died without one (terminated)."""
    mp = multiprocessing.get_context("spawn")
    parent, child = mp.Pipe(duplex=False)
    proc = mp.Process(target=_child_main, args=(child, ref, task_name, args, info), daemon=True, name=f"taskwire-{task_name}")
    proc.start()
    child.close()
    started(ProcessAttempt(proc, parent))
    loop = asyncio.get_running_loop()
    done: asyncio.Future[ProcessOutcome | None] = loop.create_future()

    def readable() -> None:
        try:
            while parent.poll():
                msg = parent.recv()
                if msg[0] == "log":
                    on_log(msg[1], msg[2])
                elif msg[0] == "progress":
                    on_progress(msg[1], msg[2])
                elif not done.done():
                    done.set_result(msg)
        except (EOFError, OSError):
            if not done.done():
                done.set_result(None)
            loop.remove_reader(parent.fileno())

    loop.add_reader(parent.fileno(), readable)
    try:
        return await done
    finally:
        try:
            loop.remove_reader(parent.fileno())
        except (ValueError, OSError):
            pass
        parent.close()
        await loop.run_in_executor(None, proc.join, 5.0)
