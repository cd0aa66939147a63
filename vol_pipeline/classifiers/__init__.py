"""Headline sentiment classifiers behind one interface (`base.SentimentClassifier`).

- `loughran_mcdonald`: the default; offline, deterministic, a dictionary of financial words.
- `finbert`: ProsusAI/finbert through transformers, from a local model directory
  (`VOL_PIPELINE_FINBERT_DIR`; the `finbert` extra installs its dependencies).
"""
