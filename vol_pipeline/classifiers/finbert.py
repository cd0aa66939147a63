"""FinBERT (ProsusAI/finbert) through transformers, from a local model directory.

Nothing is downloaded: the directory (`VOL_PIPELINE_FINBERT_DIR`) must hold the model and
tokenizer files, e.g. from `huggingface-cli download ProsusAI/finbert --local-dir DIR` run
once by whoever deploys. Install the dependencies with the `finbert` extra
(`pip install -e '.[finbert]'`). As the original: text truncated at 512 tokens, softmax
over the model's labels, the argmax label and its probability. Texts go through the model
in batches; an empty text is neutral with score 0 without asking the model.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from vol_pipeline.classifiers.base import CLASSIFIED_SCHEMA, FINBERT_DIR_VAR, LABELS

MAX_TOKENS = 512
BATCH_SIZE = 32


class FinBertUnavailable(RuntimeError):
    """The model directory or the transformers stack is missing; the message says which."""


class FinBertClassifier:
    def __init__(self, model_dir: str | Path, batch_size: int = BATCH_SIZE):
        path = Path(model_dir)
        if not (path / "config.json").is_file():
            raise FinBertUnavailable(f"{FINBERT_DIR_VAR}={path}: no model there (config.json missing); "
                                     "download ProsusAI/finbert into it once, or unset it to use the dictionary classifier")
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as error:
            raise FinBertUnavailable(f"FinBERT needs the finbert extra (pip install -e '.[finbert]'): {error}") from None
        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True).eval()
        self.labels = [self.model.config.id2label[i].lower() for i in range(self.model.config.num_labels)]
        unknown = set(self.labels) - set(LABELS)
        if unknown:
            raise FinBertUnavailable(f"{path}: the model's labels {sorted(unknown)} are not {', '.join(LABELS)}")
        self.batch_size = batch_size
        self.name = f"finbert:{path.name}"

    def _batch(self, texts: list[str]) -> tuple[list[str], list[float]]:
        encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        with self._torch.no_grad():
            probabilities = self._torch.softmax(self.model(**encoded).logits, dim=-1)
        best = probabilities.max(dim=-1)
        return [self.labels[i] for i in best.indices.tolist()], best.values.tolist()

    def classify(self, texts: pl.Series) -> pl.DataFrame:
        values = [t.strip() if t else "" for t in texts.to_list()]
        labels, scores = ["neutral"] * len(values), [0.0] * len(values)
        asked = [i for i, text in enumerate(values) if text]
        for start in range(0, len(asked), self.batch_size):  # batches of texts, not rows one by one
            chunk = asked[start:start + self.batch_size]
            chunk_labels, chunk_scores = self._batch([values[i] for i in chunk])
            for i, label, score in zip(chunk, chunk_labels, chunk_scores):
                labels[i], scores[i] = label, score
        return pl.DataFrame({"label": labels, "score": scores}, schema=CLASSIFIED_SCHEMA)
