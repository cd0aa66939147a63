-- lane_features partitioned by UTC day (each NYSE session lies inside one): a session's
-- rows are written by loading a new table, indexing it once and swapping it in as the
-- day's partition (~3x the rows/s of deleting and inserting into one indexed table).
-- Columns, key and index stay as before; existing rows move to their day's partition.
ALTER TABLE lane_features RENAME TO lane_features_before_009;
ALTER TABLE lane_features_before_009 RENAME CONSTRAINT lane_features_pkey TO lane_features_before_009_pkey;
ALTER INDEX idx_lane_features_volume RENAME TO idx_lane_features_volume_before_009;

CREATE TABLE lane_features (LIKE lane_features_before_009 INCLUDING DEFAULTS INCLUDING COMMENTS,
                            PRIMARY KEY (ts, ticker)) PARTITION BY RANGE (ts);
CREATE INDEX idx_lane_features_volume ON lane_features (ticker, ts, volume_ratio);

DO $$
DECLARE
    day DATE;
BEGIN
    FOR day IN SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date FROM lane_features_before_009 LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF lane_features FOR VALUES FROM (%L) TO (%L)',
                       'lane_features_' || to_char(day, 'YYYYMMDD'),
                       day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
    END LOOP;
END $$;

INSERT INTO lane_features SELECT * FROM lane_features_before_009;
DROP TABLE lane_features_before_009;
