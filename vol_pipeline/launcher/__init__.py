"""Run launching: the per-minute runs start in processes loaded ahead of time (warm.py)."""

from vol_pipeline.launcher.warm import RUN_PROCESS_TAG, WarmRunLauncher

__all__ = ["RUN_PROCESS_TAG", "WarmRunLauncher"]
