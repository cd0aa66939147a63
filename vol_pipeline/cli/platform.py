"""`demo` and `replay`: materialize minutes through the Dagster job into the warehouse."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from vol_pipeline.cli.context import settings_from_env, warehouse
from vol_pipeline.cli.errors import EXIT_REJECTED_ROWS, CliError
from vol_pipeline.cli.report import session_report_text
from vol_pipeline.core.calendar import market_minutes_back, market_minutes_between, sessions_between
from vol_pipeline.core.volume import multiplier_bucket
from vol_pipeline.settings import Settings, market_today

SESSION_MINUTES = 390
# Minutes per run: whole sessions, as many as keep a run under ~1M bars (5 at most, so the
# progress bar still moves). Each run costs ~1 s of Dagster's own; 5,000 tickers get one
# session a run (memory), 7 tickers five.
RUN_BARS, MAX_SESSIONS_PER_RUN = 1_000_000, 5


def run_minutes(tickers: int) -> int:
    sessions = max(1, min(MAX_SESSIONS_PER_RUN, RUN_BARS // (SESSION_MINUTES * max(tickers, 1))))
    return sessions * SESSION_MINUTES
WARM_UP_MINUTES = 240  # bars before the first minute, so lane_features has history there


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int, label: str, width: int = 30):
        self.total, self.label, self.width, self.done = total, label, width, 0

    def __call__(self, minutes: int) -> None:
        self.done += minutes
        filled = self.width * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        end = "\n" if self.done >= self.total else ""
        print(f"\r{self.label} [{bar}] {self.done}/{self.total} minutes", end=end, file=sys.stderr, flush=True)


def _run(settings: Settings, minutes: list[datetime], label: str, tickers: int, warm_up: list[datetime] = ()) -> str:
    from vol_pipeline.definitions import build_definitions
    from vol_pipeline.runs import cli_instance, failure_message, materialize_news, materialize_ranges, plan_runs

    defs = build_definitions(settings)
    instance = cli_instance(settings)
    if settings.news_on:  # the news first: each minute's signals read the window up to its close
        news = materialize_news(defs, instance, minutes[0].date(), minutes[-1].date())
        if not news.success:
            raise CliError(failure_message(news), code=1)
    if warm_up:
        results = materialize_ranges(defs, instance, plan_runs(instance, warm_up, run_minutes(tickers)), selection=["bars", "bars_quarantine"])
        if not results[-1].success:
            raise CliError(failure_message(results[-1]), code=1)
    ranges = plan_runs(instance, minutes, run_minutes(tickers))
    results = materialize_ranges(defs, instance, ranges, on_progress=Progress(len(minutes), label))
    if results and not results[-1].success:
        raise CliError(failure_message(results[-1]), code=1)
    news_text = " after 1 run of news_job" if settings.news_on else ""
    return (f"{len(results)} run(s) of minute_job{news_text}, last run id {results[-1].run_id}" if results
            else "nothing to run")


def _summary(settings: Settings, start: datetime, end: datetime) -> str:
    store = warehouse(settings)
    counts = {name: store.read(name, start, end).height for name in ("bars", "bars_quarantine", "lane_features", "signals")}
    recs = store.read("recommendations", start, end)
    lines = [f"  {name}: {rows} rows" for name, rows in counts.items()]
    if settings.news_on:
        news = store.read("news_sentiment", start - timedelta(hours=2), end)
        lines.insert(0, f"  news: {news.height} labelled items known from 2 h before the first minute "
                        f"({news.filter(pl.col('tickers') != '').height} naming a ticker); rule set {_rule_version(store, start, end)}")
    lines.append(f"  recommendations: {recs.height} rows")
    if recs.height:
        buckets = recs.group_by(multiplier_bucket(pl.col("volume_mult")).alias("bucket")).len().sort("bucket")
        lines.append("  volume multiplier buckets: " + ", ".join(f"{b} {n}" for b, n in buckets.iter_rows()))
        top = recs.sort("confidence", descending=True).row(0, named=True)
        lines.append(f"  top: {top['id']} {top['action']} {top['instrument_type']} confidence {top['confidence']:.3f} "
                     f"(base {top['base_confidence']:.3f} x volume {top['volume_mult']})  -> vol-pipeline explain {top['id']}")
    executions = store.read("executions", start, end)
    if executions.height:
        simulated = executions.filter(pl.col("status") == "SIMULATED").height
        lines.append(f"  executions: {simulated} simulated, {executions.height - simulated} skipped "
                     f"(execution rate {simulated / executions.height:.1%})")
    return "\n".join(lines)


def _news_file(path_text: str):
    """The news file, read once here so an unusable one stops before any run."""
    from vol_pipeline.core.errors import BadInputError
    from vol_pipeline.sources.news_file import read_news_file

    try:
        read_news_file(path_text)
    except BadInputError as error:
        raise CliError(str(error)) from None
    return Path(path_text).resolve()


def _rule_version(store, start: datetime, end: datetime) -> str:
    newest = store.read("signals", start, end, newest_first=1)
    return newest["rule_version"][0] if newest.height else "none"


def _ui_hint(settings: Settings, extra_env: str = "") -> str:
    return (
        "Open the Dagster UI on the same data:\n"
        f"  {extra_env}VOL_PIPELINE_HOME={settings.home} DAGSTER_HOME={settings.dagster_home} "
        ".venv/bin/dagster dev -w workspace.yaml\n"
        "then http://127.0.0.1:3000 : Assets -> recommendations -> Partitions."
    )


def demo(args: argparse.Namespace) -> str:
    env_settings = settings_from_env()
    today = market_today()
    session = args.session or sessions_between(today - timedelta(days=10), today - timedelta(days=1))[-1]
    if not sessions_between(session, session):
        raise CliError(f"--session {session}: not an NYSE session (weekend or holiday)")
    if session >= today:
        raise CliError(f"--session {session}: pick a session that has closed (before {today})")
    day_start = datetime.combine(session, datetime.min.time(), timezone.utc)
    minutes = market_minutes_between(day_start, day_start + timedelta(days=1))
    warm_start = market_minutes_back(minutes[0], WARM_UP_MINUTES)
    warm_up = market_minutes_between(warm_start, minutes[0])
    settings = replace(env_settings, source="synthetic", bars_file=None, partition_start=min(env_settings.partition_start, warm_start.date()))
    # Generated headlines with --news, else none: live feeds know nothing of a past session.
    settings = replace(settings, news="synthetic" if args.news else "off", news_feeds=(), news_file=None)
    runs = _run(settings, minutes, f"session {session}", len(settings.tickers), warm_up)
    end = minutes[-1] + timedelta(minutes=1)
    moved = settings.partition_start != env_settings.partition_start
    start_env = f"VOL_PIPELINE_PARTITION_START={settings.partition_start} " if moved else ""
    if args.news:
        start_env += "VOL_PIPELINE_NEWS=synthetic "
    report = session_report_text(settings, session)
    news_text = " and headlines" if settings.news_on else ""
    return (
        f"Materialized NYSE session {session} ({len(minutes)} minutes, synthetic bars{news_text} for "
        f"{', '.join(env_settings.tickers)}) into {settings.warehouse_location}: {runs}.\n"
        f"{_summary(settings, minutes[0], end)}\n{report}\n{_ui_hint(settings, start_env)}"
    )


def replay(args: argparse.Namespace) -> str:
    from vol_pipeline.sources.replay import ReplayBarSource

    env_settings = settings_from_env()
    # Validates the whole file (raises BadInputError if unusable); bars outside the regular
    # sessions and tickers off the watchlist are rejected rows, so every valid minute is a partition.
    source = ReplayBarSource(args.bars, watchlist=env_settings.watchlist)
    valid = source.validation.valid
    if valid.is_empty():
        raise CliError(f"{args.bars}: no valid bars to replay ({source.validation.summary()})")
    first = valid["ts"].min()
    minutes = valid["ts"].unique().sort().to_list()
    settings = replace(env_settings, source="replay", bars_file=source.path, partition_start=min(env_settings.partition_start, first.date()))
    if args.news:
        settings = replace(settings, news="file", news_feeds=(), news_file=_news_file(args.news))
    elif settings.news == "feeds":  # today's feeds know nothing of the file's past minutes
        settings = replace(settings, news="off", news_feeds=())
    runs = _run(settings, minutes, f"replay {source.path.name}", valid["ticker"].n_unique())
    env = (f"VOL_PIPELINE_PARTITION_START={settings.partition_start} VOL_PIPELINE_SOURCE=replay "
           f"VOL_PIPELINE_BARS_FILE={source.path} ")
    if settings.news_file:
        env += f"VOL_PIPELINE_NEWS_FILE={settings.news_file} "
    report = "\n".join([
        f"Replayed {len(minutes)} market minutes of {source.path} into {settings.warehouse_location}: {runs}.",
        _summary(settings, minutes[0], minutes[-1] + timedelta(minutes=1)),
        _ui_hint(settings, env),
    ])
    if source.validation.rejected.height:  # exit 1 like `features`: the valid rows were processed
        raise CliError(f"{args.bars}: {source.validation.summary()}; rejected rows with reasons are in "
                       "bars_quarantine (vol-pipeline export bars_quarantine --out FILE)", EXIT_REJECTED_ROWS, report)
    return report

