"""Fast deterministic integer hashing (splitmix64) for lazily generated data.

Every synthetic value is a pure function of (seed, a few integers), so any record
can be computed on its own in O(1) without holding its neighbours in memory.
"""

from __future__ import annotations

import uuid

MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_U32 = 1.0 / (1 << 32)
_U53 = 1.0 / (1 << 53)


def splitmix64(x: int) -> int:
    x = (x + _GOLDEN) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def mix(*parts: int) -> int:
    """Hash a tuple of integers to 64 bits."""
    x = 0
    for part in parts:
        x = splitmix64(x ^ (part & MASK64))
    return x


def unit(*parts: int) -> float:
    """A float in [0, 1) from a tuple of integers."""
    return (mix(*parts) >> 11) * _U53


def low_bits_unit(x: int) -> float:
    """The low 32 bits of a 64-bit hash as a float in [0, 1)."""
    return (x & 0xFFFFFFFF) * _U32


def high_bits_unit(x: int) -> float:
    """The high 32 bits of a 64-bit hash as a float in [0, 1)."""
    return (x >> 32) * _U32


def str_key(text: str) -> int:
    """A stable integer for a short string (used as a hashing salt)."""
    x = 0
    for byte in text.encode():
        x = splitmix64(x ^ byte)
    return x


def seeded_uuid(*parts: int) -> str:
    """A Verkada-style (version 4 formatted) UUID string made deterministically from parts."""
    high = mix(*parts, 1)
    low = mix(*parts, 2)
    return str(uuid.UUID(int=(high << 64) | low, version=4))
