-- Bar provenance: the feed a bar came from (iex, sip, synthetic, replay) and when it was
-- read. Bars stored before this migration keep NULL in both.
ALTER TABLE bars ADD COLUMN IF NOT EXISTS feed TEXT;
ALTER TABLE bars ADD COLUMN IF NOT EXISTS fetched_at TIMESTAMPTZ;

-- What later fetches changed: written in the same transaction as the bars they replace.
-- change: 'revised' (values differ), 'added' (late for a minute already stored),
-- 'removed' (no longer returned). Append-only; a re-run with the same values adds nothing.
CREATE TABLE IF NOT EXISTS bar_revisions (
    ticker TEXT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    change TEXT NOT NULL,  -- revised, added or removed
    old_open DOUBLE PRECISION,
    old_high DOUBLE PRECISION,
    old_low DOUBLE PRECISION,
    old_close DOUBLE PRECISION,
    old_volume BIGINT,
    new_open DOUBLE PRECISION,
    new_high DOUBLE PRECISION,
    new_low DOUBLE PRECISION,
    new_close DOUBLE PRECISION,
    new_volume BIGINT,
    old_fetched_at TIMESTAMPTZ,
    new_fetched_at TIMESTAMPTZ,
    feed TEXT,
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_bar_revisions_ts ON bar_revisions (ts);
CREATE INDEX IF NOT EXISTS idx_bar_revisions_ticker_ts ON bar_revisions (ticker, ts);
