"""Bar revisions: what a bars write changed, recorded in the same transaction.

When a window of bars is replaced, every stored bar whose values the new rows change,
every bar that arrives late for a minute already stored, and every stored bar the new
rows no longer have becomes one `bar_revisions` row (old and new values, when). Only
minutes that already had stored bars are compared, so a first write records nothing,
and writing the same values again records nothing: re-runs stay idempotent.

Fixed statements for both warehouses (DuckDB and PostgreSQL both take $1, $2): the new
rows are staged as STAGE, the window is [$1, $2).
"""

from __future__ import annotations

from vol_pipeline.storage.tables import BAR_REVISION_COLUMNS

STAGE = "vol_pipeline_stage"  # the staged new bars (a registered Arrow table / a temporary table)
_VALUES = ("open", "high", "low", "close", "volume")
_WINDOW = "ts >= $1 AND ts < $2"

ANY_STORED_SQL = f"SELECT EXISTS (SELECT 1 FROM bars WHERE {_WINDOW})"

RECORD_SQL = (
    f"INSERT INTO bar_revisions ({', '.join(BAR_REVISION_COLUMNS)}) SELECT "
    + ", ".join([
        "COALESCE(n.ticker, o.ticker)", "COALESCE(n.ts, o.ts)",
        "CASE WHEN o.ticker IS NULL THEN 'added' WHEN n.ticker IS NULL THEN 'removed' ELSE 'revised' END",
        *(f"o.{c}" for c in _VALUES), *(f"n.{c}" for c in _VALUES),
        "o.fetched_at", "n.fetched_at", "COALESCE(n.feed, o.feed)", "now()",
    ])
    + f" FROM (SELECT * FROM bars WHERE {_WINDOW}) o"
    + f" FULL OUTER JOIN {STAGE} n ON o.ticker = n.ticker AND o.ts = n.ts"
    + f" WHERE COALESCE(n.ts, o.ts) IN (SELECT DISTINCT ts FROM bars WHERE {_WINDOW})"
    + " AND (o.ticker IS NULL OR n.ticker IS NULL OR " + " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in _VALUES) + ")"
)

# PostgreSQL through ADBC reports no row count for an INSERT: the statement counts itself.
RECORD_COUNTED_SQL = f"WITH recorded AS ({RECORD_SQL} RETURNING 1) SELECT count(*) FROM recorded"
