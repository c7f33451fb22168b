"""Python worker quick start: two tasks any service can submit by name.

    python -m taskwire worker examples/python-worker/tasks.py --concurrency 8
    npx taskwire submit py-word-count --args '["the quick brown fox"]' --wait

Run by CI: clients/python/tests/test_examples.py.
"""

from __future__ import annotations

import asyncio

import taskwire


@taskwire.task(name="py-word-count", retries=3, timeout=30.0)
def word_count(text: str) -> dict[str, int]:
    ctx = taskwire.context()
    ctx.log.info(f"counting the words of {len(text)} characters")
    return {"words": len(text.split()), "attempt": ctx.attempt}


@taskwire.task(name="py-fetch-title", timeout=10.0)
async def fetch_title(url: str) -> str:
    ctx = taskwire.context()
    ctx.progress(0.5, "fetching")
    await asyncio.sleep(0.05)  # an HTTP call (httpx, aiohttp) would go here
    if not url.startswith("https://"):
        raise taskwire.NonRetryableError(f"not an https URL: {url}", type="BadUrl")
    return f"Title of {url}"
