-- lane_features as the original's migration 002: price features per bar.
CREATE TABLE IF NOT EXISTS lane_features (
    ticker TEXT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    close DOUBLE PRECISION,
    sma20 DOUBLE PRECISION,
    sma50 DOUBLE PRECISION,
    recent_vol DOUBLE PRECISION,
    baseline_vol DOUBLE PRECISION,
    vol_ratio DOUBLE PRECISION,
    distance_sma20 DOUBLE PRECISION,
    distance_sma50 DOUBLE PRECISION,
    trend_state INTEGER,
    computed_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (ts, ticker)
);
-- No separate (ticker, ts) index: idx_lane_features_volume (003) leads with (ticker, ts)
-- and serves those lookups; each extra index slows every bulk write.
