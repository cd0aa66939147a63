-- The volume features (the original's migration 007, Phase 12).
ALTER TABLE lane_features ADD COLUMN IF NOT EXISTS volume_current BIGINT;
ALTER TABLE lane_features ADD COLUMN IF NOT EXISTS volume_avg_20 BIGINT;
ALTER TABLE lane_features ADD COLUMN IF NOT EXISTS volume_ratio NUMERIC(10,4);
ALTER TABLE lane_features ADD COLUMN IF NOT EXISTS volume_surge BOOLEAN;
CREATE INDEX IF NOT EXISTS idx_lane_features_volume ON lane_features (ticker, ts, volume_ratio);
COMMENT ON COLUMN lane_features.volume_avg_20 IS 'mean of the last 20 volumes including this bar, truncated';
COMMENT ON COLUMN lane_features.volume_ratio IS 'volume_current / volume_avg_20: >2.0 surge, <0.5 dry, 1.0 normal';
COMMENT ON COLUMN lane_features.volume_surge IS 'true if the unrounded volume ratio > 2.0';
