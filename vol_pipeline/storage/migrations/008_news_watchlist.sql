-- News items as fetched, and their labels. Both are append-only and keyed by event_uid
-- (sha256 of guid, link or title:published): an item repeated by a feed, or carried by
-- several, is stored once (INSERT ... ON CONFLICT DO NOTHING).
CREATE TABLE IF NOT EXISTS news_items (
    event_uid TEXT PRIMARY KEY,
    feed TEXT NOT NULL,
    guid TEXT,
    link TEXT,
    title TEXT,
    summary TEXT,
    published_at TIMESTAMPTZ NOT NULL,
    dated_by TEXT NOT NULL,  -- published, updated or fetched: where published_at came from
    fetched_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_news_items_published_at ON news_items (published_at);

-- known_at: when the pipeline could first have used the item (its publication time for
-- recorded and generated news; the later of published and fetched for live feeds). The
-- signal engine's 30-minute window reads by it.
CREATE TABLE IF NOT EXISTS news_sentiment (
    event_uid TEXT PRIMARY KEY,
    known_at TIMESTAMPTZ NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    feed TEXT NOT NULL,
    title TEXT,
    tickers TEXT NOT NULL,  -- comma-separated universe tickers the item names, '' for none
    label TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    classifier TEXT NOT NULL,
    classified_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_news_sentiment_known_at ON news_sentiment (known_at);

-- The watchlist engine (reference §7), every 5 minutes: ts is the mark (the bar whose
-- features were scored), as_of its close. Rows off the list have rank 999.
CREATE TABLE IF NOT EXISTS watchlist (
    ts TIMESTAMPTZ NOT NULL,
    ticker TEXT NOT NULL,
    as_of TIMESTAMPTZ NOT NULL,
    watch_score DOUBLE PRECISION NOT NULL,
    rank INTEGER NOT NULL,
    in_watchlist BOOLEAN NOT NULL,
    news_count BIGINT NOT NULL,
    avg_sentiment DOUBLE PRECISION NOT NULL,
    news_age_s DOUBLE PRECISION NOT NULL,
    sentiment_pressure DOUBLE PRECISION NOT NULL,
    setup_quality DOUBLE PRECISION NOT NULL,
    vol_ratio DOUBLE PRECISION,
    vol_score DOUBLE PRECISION NOT NULL,
    trend_state INTEGER NOT NULL,
    trend_alignment DOUBLE PRECISION NOT NULL,
    close DOUBLE PRECISION NOT NULL,
    sma20 DOUBLE PRECISION NOT NULL,
    sma50 DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (ticker, ts)
);
CREATE INDEX IF NOT EXISTS idx_watchlist_ts ON watchlist (ts);
