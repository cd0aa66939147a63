"""vol_pipeline: intraday equity volume signals as Dagster software-defined assets."""

__version__ = "0.1.0"
