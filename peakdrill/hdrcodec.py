"""The standard compressed HdrHistogram encoding (V2, base64), to and from the sparse form.

Byte for byte what the ``hdrhistogram`` package (and the Java original) writes: an 8-byte header
(compression cookie, length), then zlib of a 40-byte payload header and the counts as ZigZag LEB128
varints, where a run of k empty buckets is written as -k (a lone 0 is read as one empty bucket). Decoding goes straight to
(bucket index, count) pairs, never through a full counts array, and decodes a batch of records in one
vectorised pass: that is what lets a report read an hour of records in seconds.
"""

from __future__ import annotations

import base64
import binascii
import struct
import zlib
from collections.abc import Sequence

import numpy as np

from peakdrill.histograms import COUNTS_LEN, HIGHEST_US, LOWEST_US, SIGNIFICANT_DIGITS

ENCODING_COOKIE = 0x1C849303 | 0x10
COMPRESSION_COOKIE = 0x1C849304 | 0x10
_COOKIE_MASK = ~0xF0 & 0xFFFFFFFF
_OUTER = struct.Struct(">II")
_PAYLOAD = struct.Struct(">IIIIQQd")
# The longest meaningful payload: every counter written with the widest varint.
_MAX_PAYLOAD = _PAYLOAD.size + COUNTS_LEN * 9


class HistogramDecodeError(ValueError):
    """One record of a batch does not hold a histogram of peakdrill's layout."""

    def __init__(self, position: int, problem: str) -> None:
        super().__init__(problem)
        self.position = position
        self.problem = problem


def _varint(out: bytearray, value: int) -> None:
    value = ((value << 1) ^ (value >> 63)) & 0xFFFFFFFFFFFFFFFF
    for _ in range(8):
        if value < 0x80:
            out.append(value)
            return
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value & 0xFF)


def encode(index: Sequence[int], counts: Sequence[int]) -> str:
    """The base64 wire encoding of a sparse histogram (``index`` sorted, unique, counts > 0)."""
    body = bytearray()
    position = 0
    for i, c in zip(index, counts):
        gap = int(i) - position
        if gap > 0:
            _varint(body, -gap)
        _varint(body, int(c))
        position = int(i) + 1
    payload = _PAYLOAD.pack(ENCODING_COOKIE, len(body), 0, SIGNIFICANT_DIGITS, LOWEST_US, HIGHEST_US, 1.0)
    compressed = zlib.compress(payload + bytes(body))
    return base64.b64encode(_OUTER.pack(COMPRESSION_COOKIE, len(compressed)) + compressed).decode("ascii")


def _payload(position: int, text: object) -> bytes:
    """The varint bytes of one encoded histogram, after checking every header field."""
    if not isinstance(text, str):
        raise HistogramDecodeError(position, f"'hist' must be a base64 string, got {type(text).__name__}")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise HistogramDecodeError(position, f"'hist' is not base64 ({exc})") from exc
    if len(raw) < _OUTER.size:
        raise HistogramDecodeError(position, "'hist' is too short to be an HdrHistogram")
    cookie, length = _OUTER.unpack_from(raw)
    if cookie & _COOKIE_MASK != COMPRESSION_COOKIE & _COOKIE_MASK or length != len(raw) - _OUTER.size:
        raise HistogramDecodeError(position, "'hist' is not a compressed HdrHistogram (bad cookie or length)")
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(raw[_OUTER.size:], _MAX_PAYLOAD + 1)
    except zlib.error as exc:
        raise HistogramDecodeError(position, f"'hist' does not inflate ({exc})") from exc
    if len(data) > _MAX_PAYLOAD or inflater.unconsumed_tail or len(data) < _PAYLOAD.size:
        raise HistogramDecodeError(position, "'hist' inflates to a payload of the wrong size")
    cookie, payload_len, offset, digits, lowest, highest, _ = _PAYLOAD.unpack_from(data)
    if cookie & _COOKIE_MASK != ENCODING_COOKIE & _COOKIE_MASK or payload_len != len(data) - _PAYLOAD.size:
        raise HistogramDecodeError(position, "'hist' payload header is corrupt (cookie or length)")
    if (offset, digits, lowest) != (0, SIGNIFICANT_DIGITS, LOWEST_US) or highest > HIGHEST_US:
        raise HistogramDecodeError(position, f"'hist' has layout (lowest {lowest}, highest {highest}, "
                                             f"{digits} digits); peakdrill writes (1, {HIGHEST_US}, 3)")
    return data[_PAYLOAD.size:]


def decode_batch(texts: Sequence[object]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode many records at once: (record position, bucket index, count) of every non-empty bucket,
    ordered by record then index. Raises :class:`HistogramDecodeError` naming the first bad record."""
    payloads = [_payload(position, text) for position, text in enumerate(texts)]
    sizes = np.fromiter((len(p) for p in payloads), dtype=np.int64, count=len(payloads))
    data = np.frombuffer(b"".join(payloads), dtype=np.uint8)
    empty = (np.empty(0, np.int64),) * 3
    if data.size == 0:
        return empty
    record_end = np.cumsum(sizes)
    last_byte = data[record_end[sizes > 0] - 1]
    if np.any(last_byte >= 0x80):
        bad = int(np.flatnonzero(sizes > 0)[np.argmax(last_byte >= 0x80)])
        raise HistogramDecodeError(bad, "'hist' ends in the middle of a counter")
    ends = np.flatnonzero(data < 0x80)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts + 1
    # Varints per record: every record ends on a varint's last byte (checked above).
    per_record = np.diff(np.searchsorted(ends, record_end, side="left"), prepend=0)
    record = np.repeat(np.arange(len(payloads), dtype=np.int64), per_record)
    longest = int(lengths.max())
    if longest > 7:  # a count or gap of 2^48 or more is no latency histogram
        raise HistogramDecodeError(int(record[np.argmax(lengths > 7)]), "'hist' holds an impossibly large count")
    raw = (data[starts] & 0x7F).astype(np.int64)
    for k in range(1, longest):  # one pass per byte position, over the varints long enough to have it
        longer = np.flatnonzero(lengths > k)
        raw[longer] |= (data[starts[longer] + k] & 0x7F).astype(np.int64) << (7 * k)
    value = (raw >> 1) ^ -(raw & 1)
    step = np.where(value < 0, -value, 1)
    if np.any(step > COUNTS_LEN):
        raise HistogramDecodeError(int(record[np.argmax(step > COUNTS_LEN)]), "'hist' skips past the last bucket")
    position = np.cumsum(step) - step
    first_varint = np.cumsum(per_record) - per_record
    base = np.concatenate([position, [0]])[first_varint]
    index = position - base[record]
    keep = value > 0
    index, value, record = index[keep], value[keep], record[keep]
    if index.size and index.max() >= COUNTS_LEN:
        raise HistogramDecodeError(int(record[np.argmax(index >= COUNTS_LEN)]), "'hist' has values beyond 1 h")
    return record, index, value
