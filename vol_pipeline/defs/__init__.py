"""Dagster wiring: partitions, assets, checks, sensors, schedules, jobs and resources.

Thin by design: every computation is a vol_pipeline.core function; this package moves
frames between those functions, the warehouse and Dagster's metadata.
"""
