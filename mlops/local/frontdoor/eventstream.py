"""AWS event stream framing (``application/vnd.amazon.eventstream``), the encoding of
``InvokeEndpointWithResponseStream``'s answer: each message is a prelude (total length, headers length, CRC32 of
both), string headers (``:event-type``, ``:content-type``, ``:message-type``), the payload and a CRC32 of all
that precedes it. botocore's ``EventStream`` decodes exactly this."""

from __future__ import annotations

import struct
import zlib

_STRING = 7  # the header value type "string"


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return struct.pack("!B", len(raw_name)) + raw_name + struct.pack("!BH", _STRING, len(raw_value)) + raw_value


def encode_event(event_type: str, payload: bytes, content_type: str = "application/octet-stream") -> bytes:
    """One ``event`` message of type ``event_type`` (``PayloadPart``) carrying ``payload``."""
    headers = (
        _header(":event-type", event_type) + _header(":content-type", content_type) + _header(":message-type", "event")
    )
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(headers))
    prelude += struct.pack("!I", zlib.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + headers + payload
    return message + struct.pack("!I", zlib.crc32(message) & 0xFFFFFFFF)
