"""The interface both warehouses implement (embedded DuckDB now, PostgreSQL later).

No method takes SQL text: tables and columns are checked against `tables.TABLES` and
every value is a bound parameter, so nothing a user types can become SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, Sequence

import polars as pl


class Warehouse(Protocol):
    def replace(self, table: str, frame: pl.DataFrame, start: datetime, end: datetime) -> int:
        """Atomically replace the rows of `table` whose partition column is in [start, end)
        with `frame` (every row of which must be in that window). For `bars`, what the write
        changes is recorded in `bar_revisions` in the same transaction (storage/revisions.py);
        returns how many revisions that recorded (0 for other tables)."""
        ...

    def insert_new(self, table: str, frame: pl.DataFrame) -> int:
        """Append the rows of an append-only table (`Table.key` set) whose key is not stored
        yet; returns how many were new. Repeating it adds nothing."""
        ...

    def replace_unplaced(self, source: str, frame: pl.DataFrame) -> None:
        """Replace the quarantined rows of `source` that belong to no minute."""
        ...

    def read(
        self,
        table: str,
        start: datetime | None = None,
        end: datetime | None = None,
        equals: dict[str, object] | None = None,
        newest_first: int | None = None,
        columns: Sequence[str] | None = None,
        tickers: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """Rows with the partition column in [start, end) and the given column values;
        `newest_first=N` returns only the N newest rows. `columns`: only these columns (of
        the table, in this order); `tickers`: only rows of these tickers. Ordered by
        (ticker, partition column) where the table has a ticker."""
        ...

    def volume_coverage(self) -> pl.DataFrame:
        """Per ticker: lane_features rows, rows with volume data, surges, newest ts."""
        ...
