from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_broker import FakeBroker  # noqa: E402

import taskwire  # noqa: E402


@pytest.fixture
def fake() -> Iterator[FakeBroker]:
    broker = FakeBroker().start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def client(fake: FakeBroker) -> Iterator[taskwire.Client]:
    with taskwire.Client(fake.address, timeout=5) as c:
        yield c
