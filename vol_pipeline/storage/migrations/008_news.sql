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
