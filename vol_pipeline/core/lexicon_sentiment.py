"""Dictionary sentiment of headlines, vectorised: count positive and negative words.

A positive word within NEGATION_WINDOW words after a negator ("not", "no", "never", ...)
counts as negative, as Loughran and McDonald advise for their lists (negated negative
words are left alone: "not bad" is rare in news and ambiguous). net = positive - negative.
The label is positive when net > 0, negative when net < 0, else neutral; `score` is the
label's probability under softmax(SLOPE * max(net, 0), SLOPE * max(-net, 0), NEUTRAL_LOGIT):
one word of net tone gives 0.67 (just over the signal engine's 0.65), two give 0.94, none
gives neutral 0.58. That keeps the contract of the original's FinBERT column: the label
and the probability of that label, in [0, 1].
"""

from __future__ import annotations

import polars as pl

NEGATORS = ("NO", "NOT", "NONE", "NEITHER", "NEVER", "NOBODY", "NOR", "WITHOUT", "ISN'T", "AREN'T",
            "WASN'T", "WEREN'T", "DOESN'T", "DIDN'T", "DON'T", "CAN'T", "WON'T", "FAILS", "FAILED")
NEGATION_WINDOW = 3
SLOPE, NEUTRAL_LOGIT = 2.0, 1.0
LABELS = ("positive", "negative", "neutral")
SCORED_SCHEMA = {"label": pl.String, "score": pl.Float64, "positive_words": pl.UInt32, "negative_words": pl.UInt32}


def lexicon_frame(positive: set[str], negative: set[str]) -> pl.DataFrame:
    """word (upper case) -> polarity +1 / -1; a word in both lists counts as neither."""
    both = positive & negative
    rows = [(w, 1) for w in positive - both] + [(w, -1) for w in negative - both]
    return pl.DataFrame(rows, schema={"word": pl.String, "polarity": pl.Int8}, orient="row")


def score_texts(texts: pl.Series, lexicon: pl.DataFrame) -> pl.DataFrame:
    """One row per text, in order: label, score, positive_words, negative_words."""
    tokens = (
        pl.DataFrame({"text": texts.fill_null("").cast(pl.String)})
        .with_row_index("item")
        .select("item", word=pl.col("text").str.to_uppercase().str.extract_all(r"[A-Z]+(?:'[A-Z]+)?"))
        .explode("word")
        .with_columns(position=pl.int_range(pl.len()).over("item"))
        .join(lexicon, on="word", how="left")
        .with_columns(negator=pl.col("word").is_in(NEGATORS))
        .sort("item", "position")
    )
    negated = (
        pl.col("negator").cast(pl.Int32).rolling_sum(NEGATION_WINDOW, min_samples=1).shift(1).fill_null(0).over("item")
        > 0
    )
    polarity = pl.when((pl.col("polarity") == 1) & negated).then(-1).otherwise(pl.col("polarity"))
    counts = (
        tokens.with_columns(polarity=polarity)
        .group_by("item")
        .agg(positive_words=(pl.col("polarity") == 1).sum(), negative_words=(pl.col("polarity") == -1).sum())
    )
    net = pl.col("positive_words").cast(pl.Int64) - pl.col("negative_words").cast(pl.Int64)
    logits = [SLOPE * pl.max_horizontal(net, 0), SLOPE * pl.max_horizontal(-net, 0), pl.lit(NEUTRAL_LOGIT)]
    denominator = pl.sum_horizontal(*(logit.exp() for logit in logits))
    label = pl.when(net > 0).then(pl.lit("positive")).when(net < 0).then(pl.lit("negative")).otherwise(pl.lit("neutral"))
    chosen = pl.when(net > 0).then(logits[0]).when(net < 0).then(logits[1]).otherwise(logits[2])
    return (
        pl.DataFrame({"item": pl.int_range(texts.len(), eager=True).cast(pl.UInt32)})
        .join(counts, on="item", how="left", maintain_order="left")
        .with_columns(pl.col("positive_words", "negative_words").fill_null(0))
        .select(label=label, score=chosen.exp() / denominator, positive_words="positive_words",
                negative_words="negative_words")
        .cast(SCORED_SCHEMA)
    )
