"""Counter-based random numbers: a value is a pure function of (key, stream), so synthetic
data for one ticker, session or minute never depends on what else was asked for."""

from __future__ import annotations

import zlib

import numpy as np

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (z ^ (z >> np.uint64(31))) & _MASK


def uniform(keys: np.ndarray, stream: int) -> np.ndarray:
    """Uniform [0, 1) per key, independent per stream."""
    with np.errstate(over="ignore"):
        mixed = splitmix64(keys ^ splitmix64(np.full_like(keys, stream)))
    return (mixed >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def normal(keys: np.ndarray, stream: int) -> np.ndarray:
    u1 = np.maximum(uniform(keys, 2 * stream), 1e-300)
    u2 = uniform(keys, 2 * stream + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def ticker_ids(tickers: list[str]) -> np.ndarray:
    return np.array([zlib.crc32(t.encode()) for t in tickers], dtype=np.uint64)
