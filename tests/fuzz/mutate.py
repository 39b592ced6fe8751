"""A small deterministic byte mutator: the fuzz engine for CI and for machines without atheris.

Not coverage-guided (atheris is, for long runs); it applies the classic mutations (bit flips,
interesting integers, byte runs, deletions, duplications, splices between seeds) to valid
seeds, so most mutants get past the magic bytes and into the parsers' inner loops.
"""

from __future__ import annotations

import random
import struct

_INTERESTING = [
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    15,
    16,
    31,
    32,
    63,
    64,
    127,
    128,
    255,
    256,
    1023,
    1024,
    4095,
    4096,
    32767,
    32768,
    65535,
    65536,
    2**31 - 1,
    2**31,
    2**32 - 1,
]


def mutate(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    buf = bytearray(data or b"\x00")
    for _ in range(rng.choice((1, 1, 2, 3, 5))):
        kind = rng.randrange(9)
        at = rng.randrange(len(buf)) if buf else 0
        if kind == 0 and buf:
            buf[at] ^= 1 << rng.randrange(8)
        elif kind == 1 and buf:
            buf[at] = rng.randrange(256)
        elif kind == 2 and len(buf) >= 4:
            at = rng.randrange(len(buf) - 3)
            fmt = rng.choice(("<I", ">I", "<H", ">H", "<i"))
            value = rng.choice(_INTERESTING)
            size = struct.calcsize(fmt)
            if fmt.endswith("H"):
                value &= 0xFFFF
            if fmt.endswith("i"):
                value = value - 2**32 if value >= 2**31 else value
                value = max(-(2**31), min(value, 2**31 - 1))
            buf[at : at + size] = struct.pack(fmt, value)
        elif kind == 3 and len(buf) > 1:
            end = min(len(buf), at + rng.randrange(1, 64))
            del buf[at:end]
        elif kind == 4:
            chunk = buf[at : at + rng.randrange(1, 64)]
            buf[at:at] = chunk * rng.randrange(1, 4)
        elif kind == 5:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
        elif kind == 6 and others:
            other = rng.choice(others)
            if other:
                start = rng.randrange(len(other))
                buf[at:] = other[start : start + rng.randrange(1, 512)]
        elif kind == 7:
            del buf[rng.randrange(len(buf) + 1) :]  # truncation
        elif kind == 8 and buf:
            end = min(len(buf), at + rng.randrange(1, 32))
            buf[at:end] = bytes([rng.choice((0x00, 0xFF, 0x7F, 0x80))]) * (end - at)
    return bytes(buf)
