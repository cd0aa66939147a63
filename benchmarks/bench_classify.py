"""Sentiment classifier throughput: headlines labelled per second.

    .venv/bin/python benchmarks/bench_classify.py            # 1,000 and 100,000 headlines
    .venv/bin/python benchmarks/bench_classify.py --quick    # 1,000

The headlines are the tests' 60 labelled ones (vol_pipeline_tests/fixtures), repeated with a
counter appended so no two texts are equal. Timed: `classify` of the whole batch by the default
Loughran-McDonald classifier (word lists loaded before timing, once per process), and by FinBERT
when VOL_PIPELINE_FINBERT_DIR names a local model and the `finbert` extra is installed (skipped
otherwise: nothing is downloaded). Also timed: `label_items`, what the news assets run (the
classifier plus the ticker extraction).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Row, write_results  # noqa: E402

FIXTURE = ROOT / "vol_pipeline_tests" / "fixtures" / "labelled_headlines.csv"


def headlines(count: int):
    import polars as pl

    base = pl.read_csv(FIXTURE)["headline"].to_list()
    return pl.Series("text", [f"{base[i % len(base)]} ({i})" for i in range(count)])


def _timed(work, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return samples


def run(quick: bool = False) -> list[Row]:
    import polars as pl

    from vol_pipeline.classifiers.labelling import label_items
    from vol_pipeline.classifiers.loughran_mcdonald import LoughranMcDonaldClassifier
    from vol_pipeline.core.config import DEFAULT_TICKERS

    rows = []
    classifiers = [("Loughran-McDonald", LoughranMcDonaldClassifier())]
    if os.environ.get("VOL_PIPELINE_FINBERT_DIR"):
        from vol_pipeline.classifiers.finbert import FinBertClassifier

        classifiers.append(("FinBERT", FinBertClassifier(os.environ["VOL_PIPELINE_FINBERT_DIR"])))
    classifiers[0][1].classify(headlines(10))  # the word lists are read once per process
    for count in ((1_000,) if quick else (1_000, 100_000)):
        texts = headlines(count)
        for name, classifier in classifiers:
            if name == "FinBERT" and count > 1_000:
                continue  # minutes per run on 2 cores
            samples = _timed(lambda: classifier.classify(texts), 3 if quick else 5)
            rows.append(Row("classify", f"{name}: {count:,} headlines", samples,
                            note=f"{count / min(samples):,.0f} headlines/s (best run)",
                            extra={"headlines_per_s": count / min(samples)}))
        items = pl.DataFrame({"title": texts, "summary": [""] * count})
        samples = _timed(lambda: label_items(items, classifiers[0][1], DEFAULT_TICKERS), 3 if quick else 5)
        rows.append(Row("classify", f"label_items (classifier + tickers): {count:,} headlines", samples,
                        note=f"{count / min(samples):,.0f} headlines/s (best run)",
                        extra={"headlines_per_s": count / min(samples)}))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    print(write_results("classify", run(args.quick)).read_text())


if __name__ == "__main__":
    main()
