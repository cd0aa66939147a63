"""`vol-pipeline classify`: a news file labelled without Dagster; bad files in one line."""

import json

import polars as pl
import pytest

from vol_pipeline.sources.news_file import read_news_file
from vol_pipeline_tests.test_security import clean_env, run_cli  # noqa: F401 - fixture

ROWS = [
    {"published": "2026-04-20T14:00:00Z", "title": "Nvidia shares surge after earnings beat", "tickers": ["nvda"]},
    {"published": "2026-04-20T10:01:00-04:00", "title": "Recall announced", "summary": "<p>Tesla &amp; a defect</p>"},
    {"published": "2026-04-20T14:02:00Z", "title": "Apple to hold annual meeting", "guid": "apple-1"},
    {"published": "2026-04-20T14:02:00Z", "title": "Apple to hold annual meeting", "guid": "apple-1"},  # a repeat
]


def news_file(path, rows=ROWS):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_headlines_get_label_score_and_tickers_and_read_back(clean_env, tmp_path, capfd, suffix):  # noqa: F811
    out = tmp_path / f"labelled{suffix}"
    result = run_cli(["classify", "--news", news_file(tmp_path / "news.jsonl"), "--out", out], capfd)
    assert result["code"] == 0, result
    assert result["stdout"].startswith("labelled 3 headlines (1 negative, 1 neutral, 1 positive) with loughran-mcdonald")
    assert "1 repeated items kept once" in result["stdout"]
    items, rejected, _ = read_news_file(out)  # the output is itself a readable news file
    assert rejected.is_empty() and items.height == 3
    labelled = pl.read_parquet(out) if suffix == ".parquet" else None
    by_title = {r["title"]: r for r in items.rows(named=True)}
    assert by_title["Recall announced"]["tickers"] == ["TSLA"]  # named in the summary, HTML dropped
    assert by_title["Recall announced"]["summary"] == "Tesla & a defect"
    assert by_title["Nvidia shares surge after earnings beat"]["tickers"] == ["NVDA"]
    if labelled is not None:
        assert dict(zip(labelled["title"], labelled["label"])) == {
            "Nvidia shares surge after earnings beat": "positive", "Recall announced": "negative",
            "Apple to hold annual meeting": "neutral"}
        assert labelled["score"].is_between(0, 1).all() and set(labelled["classifier"]) == {"loughran-mcdonald"}


def test_the_universe_limits_the_tickers(clean_env, tmp_path, capfd):  # noqa: F811
    out = tmp_path / "o.parquet"
    assert run_cli(["classify", "--news", news_file(tmp_path / "n.jsonl"), "--out", out, "--tickers", "AAPL"], capfd)["code"] == 0
    assert sorted(t for ts in pl.read_parquet(out)["tickers"] for t in ts) == ["AAPL"]


def test_rows_with_unreadable_times_are_rejected_beside_the_output_with_exit_1(clean_env, tmp_path, capfd):  # noqa: F811
    rows = [*ROWS[:2], {"published": "yesterday", "title": "Bad"}, {"published": "2026-04-20T14:00:00", "title": "Naive"}]
    out = tmp_path / "o.csv"
    result = run_cli(["classify", "--news", news_file(tmp_path / "n.jsonl", rows), "--out", out], capfd)
    assert result["code"] == 1 and "labelled 2 headlines" in result["stdout"]
    (line,) = result["stderr"].strip().splitlines()
    assert "2 rows rejected" in line and "published failed 'an ISO 8601 time with a UTC offset' (got yesterday)" in line
    rejected = pl.read_csv(tmp_path / "o.rejected.csv")
    assert rejected["title"].to_list() == ["Bad", "Naive"]


@pytest.mark.parametrize("name, content, message", [
    ("none.jsonl", "", "file is empty"),
    ("no_title.csv", "published,summary\n2026-04-20T14:00:00Z,x\n", "missing column 'title'"),
    ("broken.jsonl", '{"published": "2026-04-20T14:00:00Z", "title": \n', "not a readable JSONL news file"),
    ("news.txt", "x", "unsupported news file type '.txt'"),
])
def test_an_unusable_file_is_one_line_and_exit_2(clean_env, tmp_path, capfd, name, content, message):  # noqa: F811
    path = tmp_path / name
    path.write_text(content)
    result = run_cli(["classify", "--news", path, "--out", tmp_path / "o.csv"], capfd)
    (line,) = result["stderr"].strip().splitlines()
    assert result["code"] == 2 and message in line, result
    assert not (tmp_path / "o.csv").exists()


def test_classify_imports_neither_dagster_nor_pandera(tmp_path):
    import subprocess
    import sys

    news, out = news_file(tmp_path / "n.jsonl"), tmp_path / "o.parquet"
    code = ("import sys; from vol_pipeline.cli import main; "
            f"rc = main(['classify', '--news', {str(news)!r}, '--out', {str(out)!r}]); "
            "print(rc, 'dagster' in sys.modules, 'pandera' in sys.modules, 'pandas' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0 False False False"
