"""Bar sources behind one interface: synthetic (default, offline), replay files, live later."""

from vol_pipeline.sources.base import BarSource

__all__ = ["BarSource"]
