"""Which tickers a headline is about (reference §6), vectorised over a frame of texts.

Three ways a ticker is named, each kept only when the ticker is in the universe:
- a cashtag: `$AAPL` (1-5 capitals after `$`);
- the bare symbol: `AAPL` (2-5 capitals as a whole word);
- a company name from COMPANY_NAMES: `Apple`, `Nvidia` (as written, or in capitals).
The result is a sorted list without repeats; a text naming none has an empty list. The
original asked an LLM when its regexes found nothing; nothing here leaves the machine.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

import polars as pl

# The seed universe's companies. Capitalised as in running text: names are matched
# case-sensitively (so "meta-analysis" is not Meta), and in capitals (headline style).
COMPANY_NAMES: dict[str, str] = {
    "Apple": "AAPL",
    "Microsoft": "MSFT",
    "Tesla": "TSLA",
    "Alphabet": "GOOGL",
    "Google": "GOOGL",
    "Amazon": "AMZN",
    "Meta Platforms": "META",
    "Meta": "META",
    "Facebook": "META",
    "Nvidia": "NVDA",
}

_CASHTAG = r"\$[A-Z]{1,5}\b"
_SYMBOL = r"\b[A-Z]{2,5}\b"


def _name_pattern(names: Iterable[str]) -> str:
    # Longest first, so "Meta Platforms" wins over "Meta".
    spelled = sorted({form for name in names for form in (name, name.upper())}, key=len, reverse=True)
    return r"\b(?:" + "|".join(re.escape(form) for form in spelled) + r")\b"


def ticker_mentions(
    text: pl.Expr, universe: Iterable[str], company_names: Mapping[str, str] = COMPANY_NAMES
) -> pl.Expr:
    """A List[String] expression: the universe tickers `text` names, sorted, no repeats."""
    allowed = sorted(set(universe))
    names = {name: ticker for name, ticker in company_names.items() if ticker in allowed}
    by_spelling = {form: ticker for name, ticker in names.items() for form in (name, name.upper())}
    text = text.fill_null("")
    found = [
        text.str.extract_all(_CASHTAG).list.eval(pl.element().str.strip_prefix("$")),
        text.str.extract_all(_SYMBOL),
    ]
    if names:
        found.append(text.str.extract_all(_name_pattern(names)).list.eval(
            pl.element().replace_strict(by_spelling, return_dtype=pl.String)))
    return (
        pl.concat_list(found)
        .list.eval(pl.element().filter(pl.element().is_in(allowed)))
        .list.unique()
        .list.sort()
    )
