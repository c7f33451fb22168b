#!/usr/bin/env python3
"""taskwire Python quick start (the README's snippets are copied from here).

Needs a broker at TASKWIRE_ADDRESS (default localhost:50051) and a worker
serving the task "add" (the TS demo worker does).
"""

from __future__ import annotations

import asyncio


def sync_example() -> None:
    # [submit]
    import taskwire

    with taskwire.Client() as client:  # TASKWIRE_ADDRESS, else localhost:50051
        run = client.submit("add", 2, 3)
        print("submitted", run.id)
        # [/submit]

        # [result]
        try:
            print("result:", run.result(timeout=30))  # 5
        except taskwire.RunFailedError as err:
            print("failed:", err.failure.type, err.failure.message)
        except taskwire.RunTimeoutError:
            print("still running after 30 s")
        # [/result]

        # [events]
        for event in run.events():  # full history, ends when the run is terminal
            print(event.cursor, event.type.name, event.state.name)
        # [/events]


async def async_example() -> None:
    # [async]
    import taskwire

    async with taskwire.AsyncClient() as client:
        run = await client.submit("add", 2, 3)
        print("async result:", await run.result(timeout=30))
        async for event in run.events():
            print(event.type.name)
    # [/async]


if __name__ == "__main__":
    sync_example()
    asyncio.run(async_example())
