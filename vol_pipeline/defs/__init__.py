"""Dagster wiring: partitions, assets, checks, sensors, schedules, jobs and resources.

Thin by design: every computation is a vol_pipeline.core function; this package moves
frames between those functions, the warehouse and Dagster's metadata.
"""

import os
import warnings

import dagster as dg

# Two deliberate uses of not-yet-stable Dagster API (docs/DESIGN.md): single-run backfill
# policies and partitioned asset checks. Said once there, not on every load.
warnings.filterwarnings("ignore", message=r".*`backfill_policy`.*", category=dg.BetaWarning)
warnings.filterwarnings("ignore", message=r".*partitions_def on an AssetCheckSpec.*", category=dg.PreviewWarning)

# Dagster writes a range run's planned and done materializations (one per minute and asset)
# as batches only when this is > 0: dagster-postgres stores a batch in one statement, and so
# does the embedded instance's vol_pipeline/dagster_storage.py. Every process that runs this
# code location's jobs imports this package. An explicit setting wins.
os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", "1000")
