"""Pure polars logic: no Dagster import anywhere under this package."""
