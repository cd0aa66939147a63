"""Dagster code location of vol_pipeline (loaded by workspace.yaml).

The engine (vol_pipeline.core) is in place; the partitioned assets, sensor, checks and
resources that wire it to storage are the platform issue's work and are added here.
"""

import dagster as dg

defs = dg.Definitions()
