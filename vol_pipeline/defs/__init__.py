"""Dagster wiring: partitions, assets, checks, sensors, schedules, jobs and resources.

Thin by design: every computation is a vol_pipeline.core function; this package moves
frames between those functions, the warehouse and Dagster's metadata.
"""

import warnings

import dagster as dg

# Two deliberate uses of not-yet-stable Dagster API (docs/DESIGN.md): single-run backfill
# policies and partitioned asset checks. Said once there, not on every load.
warnings.filterwarnings("ignore", message=r".*`backfill_policy`.*", category=dg.BetaWarning)
warnings.filterwarnings("ignore", message=r".*partitions_def on an AssetCheckSpec.*", category=dg.PreviewWarning)
