"""The FinBERT classifier's loading and batching on a tiny BERT the test builds itself
(random weights, FinBERT's three labels): nothing is downloaded. Needs the `finbert` extra;
without it only the clear error is checked."""

import importlib.util

import polars as pl
import pytest

from vol_pipeline.classifiers.base import LABELS, default_classifier
from vol_pipeline.classifiers.finbert import FinBertClassifier, FinBertUnavailable
from vol_pipeline.classifiers.loughran_mcdonald import LoughranMcDonaldClassifier

HAVE_STACK = all(importlib.util.find_spec(m) for m in ("torch", "transformers"))
needs_stack = pytest.mark.skipif(not HAVE_STACK, reason="the finbert extra (torch, transformers) is not installed")
WORDS = ["apple", "shares", "surge", "tesla", "recalls", "cars", "nvidia", "earnings", "beat", "plunge", "the", "a"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-finbert")
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    config = BertConfig(vocab_size=5 + len(WORDS), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=520, num_labels=3,
                        id2label={0: "positive", 1: "negative", 2: "neutral"},
                        label2id={"positive": 0, "negative": 1, "neutral": 2})
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


@needs_stack
def test_labels_and_probabilities_come_from_the_local_model(tiny_model):
    texts = pl.Series(["Apple shares surge", "Tesla recalls cars", "", None, "the " * 2000])  # the last: > 512 tokens
    out = FinBertClassifier(tiny_model, batch_size=2).classify(texts)
    assert out.height == 5 and set(out["label"]) <= set(LABELS)
    assert out["score"][:2].is_between(1 / 3, 1).all() and out["score"][4] >= 1 / 3  # argmax of a 3-way softmax
    assert out.row(2) == ("neutral", 0.0) and out.row(3) == ("neutral", 0.0)  # nothing to classify


@needs_stack
def test_batching_gives_the_same_answers_as_one_text_at_a_time(tiny_model):
    texts = pl.Series(["Apple shares surge", "Nvidia earnings beat", "Tesla recalls cars", "a plunge", "cars"])
    batched = FinBertClassifier(tiny_model, batch_size=4).classify(texts)
    single = FinBertClassifier(tiny_model, batch_size=1).classify(texts)
    assert batched["label"].to_list() == single["label"].to_list()
    assert batched["score"].to_list() == pytest.approx(single["score"].to_list(), abs=1e-5)


@needs_stack
def test_the_setting_chooses_finbert(tiny_model):
    chosen = default_classifier({"VOL_PIPELINE_FINBERT_DIR": str(tiny_model)})
    assert isinstance(chosen, FinBertClassifier) and chosen.name == f"finbert:{tiny_model.name}"


def test_without_the_setting_the_dictionary_is_the_default():
    assert isinstance(default_classifier({}), LoughranMcDonaldClassifier)


def test_a_directory_without_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(FinBertUnavailable, match="VOL_PIPELINE_FINBERT_DIR=.*config.json missing"):
        default_classifier({"VOL_PIPELINE_FINBERT_DIR": str(tmp_path)})
