"""The classifier interface: texts in, one (label, score) per text out, in order."""

from __future__ import annotations

import os
from typing import Protocol

import polars as pl

LABELS = ("positive", "negative", "neutral")
CLASSIFIED_SCHEMA = {"label": pl.String, "score": pl.Float64}
FINBERT_DIR_VAR = "VOL_PIPELINE_FINBERT_DIR"


class SentimentClassifier(Protocol):
    name: str  # recorded beside every label, e.g. "loughran-mcdonald-2018" or "finbert:<dir name>"

    def classify(self, texts: pl.Series) -> pl.DataFrame:
        """label in LABELS and score = the label's probability in [0, 1], one row per text."""
        ...


def default_classifier(environ: dict[str, str] | None = None) -> SentimentClassifier:
    """FinBERT when VOL_PIPELINE_FINBERT_DIR names a model directory, else the dictionary."""
    env = os.environ if environ is None else environ
    model_dir = env.get(FINBERT_DIR_VAR, "").strip()
    if model_dir:
        from vol_pipeline.classifiers.finbert import FinBertClassifier

        return FinBertClassifier(model_dir)
    from vol_pipeline.classifiers.loughran_mcdonald import LoughranMcDonaldClassifier

    return LoughranMcDonaldClassifier()
