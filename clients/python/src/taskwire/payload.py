"""JSON helpers for task arguments and results.

Arguments travel as ``Payload{content_type: "application/json", data: <JSON
array of positional args>}``; results come back as JSON payloads too. Other
content types pass through untouched as :class:`RawPayload`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

from .v1 import types_pb2

__all__ = [
    "JSON_CONTENT_TYPE",
    "RawPayload",
    "dumps",
    "loads",
    "encode_args",
    "encode_value",
    "decode_payload",
    "is_json_content_type",
]

JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class RawPayload:
    """A payload sent or received as bytes with its media type (no JSON encoding)."""

    content_type: str
    data: bytes

    def to_proto(self) -> types_pb2.Payload:
        return types_pb2.Payload(content_type=self.content_type, data=self.data)


def dumps(value: Any) -> bytes:
    """Encode a value as compact UTF-8 JSON.

    NaN and infinities are rejected (they are not JSON; the broker and other
    languages could not parse them).
    """
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )


def loads(data: bytes | str) -> Any:
    """Decode UTF-8 JSON."""
    return json.loads(data)


def is_json_content_type(content_type: str) -> bool:
    """True for "" (the proto default), application/json and application/json; charset=..."""
    if not content_type:
        return True
    base = content_type.split(";", 1)[0].strip().lower()
    return base == JSON_CONTENT_TYPE or base.endswith("+json")


def encode_args(args: Sequence[Any]) -> types_pb2.Payload:
    """Positional arguments → ``Payload`` holding a JSON array."""
    return types_pb2.Payload(content_type=JSON_CONTENT_TYPE, data=dumps(list(args)))


def encode_value(value: Any) -> types_pb2.Payload:
    """Any JSON value → JSON ``Payload`` (a RawPayload or Payload passes through)."""
    if isinstance(value, RawPayload):
        return value.to_proto()
    if isinstance(value, types_pb2.Payload):
        return value
    return types_pb2.Payload(content_type=JSON_CONTENT_TYPE, data=dumps(value))


def decode_payload(payload: types_pb2.Payload | None) -> Any:
    """``Payload`` → Python value.

    JSON payloads are decoded (an empty JSON payload decodes to ``None``);
    other content types are returned as :class:`RawPayload`.
    """
    if payload is None:
        return None
    if is_json_content_type(payload.content_type):
        if not payload.data:
            return None
        return loads(payload.data)
    return RawPayload(payload.content_type, bytes(payload.data))
