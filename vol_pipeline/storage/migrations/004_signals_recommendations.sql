-- One signal per evaluated (ticker, minute), HOLD included; recommendations with the reason JSON.
CREATE TABLE IF NOT EXISTS signals (
    ticker TEXT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    rule_version TEXT NOT NULL,
    rule TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('BUY', 'SELL', 'HOLD')),
    instrument_type TEXT,
    direction TEXT,
    close DOUBLE PRECISION,
    sma20 DOUBLE PRECISION,
    sma50 DOUBLE PRECISION,
    distance_sma20 DOUBLE PRECISION,
    trend_state INTEGER,
    recent_vol DOUBLE PRECISION,
    vol_ratio DOUBLE PRECISION,
    vol_regime TEXT,
    sentiment_score DOUBLE PRECISION,
    news_count BIGINT,
    sentiment_strength DOUBLE PRECISION,
    trend_alignment DOUBLE PRECISION,
    setup_quality DOUBLE PRECISION,
    vol_appropriateness DOUBLE PRECISION,
    base_confidence DOUBLE PRECISION,
    volume_ratio DOUBLE PRECISION,
    volume_mult DOUBLE PRECISION,
    volume_assessment TEXT,
    confidence DOUBLE PRECISION,
    PRIMARY KEY (ts, ticker)
);

CREATE TABLE IF NOT EXISTS recommendations (
    id TEXT PRIMARY KEY,  -- ticker + bar minute, e.g. AAPL-20261123T1430Z
    ticker TEXT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('BUY', 'SELL')),
    instrument_type TEXT NOT NULL,
    rule TEXT NOT NULL,
    rule_version TEXT NOT NULL,
    base_confidence DOUBLE PRECISION,
    volume_ratio DOUBLE PRECISION,
    volume_mult DOUBLE PRECISION,
    volume_assessment TEXT,
    confidence DOUBLE PRECISION,
    reason JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS idx_recommendations_ts ON recommendations (ts);
CREATE INDEX IF NOT EXISTS idx_recommendations_ticker_ts ON recommendations (ticker, ts DESC);
