"""The client's UUIDv7 generator (request ids): RFC 9562 layout, time, order."""

from __future__ import annotations

import time
import uuid

import pytest

from taskwire._common import uuid7


def test_version_variant_and_time() -> None:
    before = time.time_ns() // 1_000_000
    u = uuid7()
    after = time.time_ns() // 1_000_000
    assert isinstance(u, uuid.UUID)
    assert u.version == 7
    assert u.variant == uuid.RFC_4122  # the bits 10
    assert (u.bytes[8] >> 6) == 0b10 and (u.bytes[6] >> 4) == 7
    assert before <= int.from_bytes(u.bytes[:6], "big") <= after  # 48-bit big-endian Unix ms
    assert str(u)[14] == "7" and str(u)[19] in "89ab"


def test_explicit_time_and_range() -> None:
    for ms in (0, 1, 1_700_000_000_123, (1 << 48) - 1):
        u = uuid7(ms)
        assert u.int >> 80 == ms and u.version == 7 and u.variant == uuid.RFC_4122
    assert str(uuid7(0x0123456789AB)).startswith("01234567-89ab-7")
    for bad in (-1, 1 << 48):
        with pytest.raises(ValueError):
            uuid7(bad)


def test_random_bits() -> None:
    ids = [uuid7(1_700_000_000_000) for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    # The 74 bits beside time, version and variant vary: every one of them is
    # seen both set and clear over 2000 ids.
    rand_mask = ((1 << 12) - 1) << 64 | ((1 << 62) - 1)
    ones = 0
    zeros = 0
    for u in ids:
        ones |= u.int & rand_mask
        zeros |= ~u.int & rand_mask
    assert ones == rand_mask and zeros == rand_mask


def test_ordered_by_time() -> None:
    ms = [0, 1, 255, 256, 65_535, 1_700_000_000_000, 1_700_000_000_001, (1 << 48) - 1]
    ids = [uuid7(m) for m in ms]
    assert sorted(ids) == ids  # as UUIDs (bytes) ...
    assert sorted(str(u) for u in ids) == [str(u) for u in ids]  # ... and as strings
    # Made in later milliseconds: later in order.
    a = uuid7()
    time.sleep(0.003)
    b = uuid7()
    assert str(a) < str(b)
