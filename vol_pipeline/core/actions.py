"""The combined actions the paper dispatcher prices and the exit walk follows, by side.

Options are simulated on the underlying (reference §8), so a put is short exposure like a
short sale: both put the stop above the entry and the target below (the original's
"BUY_PUT or SELL" case), and both profit when the price falls.
"""

from __future__ import annotations

import polars as pl

LONG_ACTIONS: tuple[str, ...] = ("BUY_CALL", "BUY_STOCK")
SHORT_ACTIONS: tuple[str, ...] = ("BUY_PUT", "SELL_STOCK")
PRICED_ACTIONS: tuple[str, ...] = LONG_ACTIONS + SHORT_ACTIONS


def is_short(action: pl.Expr) -> pl.Expr:
    """True for the actions that profit when the price falls."""
    return action.is_in(SHORT_ACTIONS)
