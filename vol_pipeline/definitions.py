"""Dagster code location of vol_pipeline (loaded by workspace.yaml and the CLI).

`build_definitions(settings)` wires everything from one Settings value; `defs` is that
for the current environment (VOL_PIPELINE_* variables, see vol_pipeline/settings.py).
"""

from __future__ import annotations

import os

import dagster as dg
from dagster_aws.s3 import S3Resource

from vol_pipeline.defs.archive import HistoryArchiveResource
from vol_pipeline.core.config import signal_rules, ticker_text
from vol_pipeline.defs.assets import NEWS_ASSETS, build_minute_assets, build_session_assets
from vol_pipeline.defs.io_manager import WarehouseIOManager
from vol_pipeline.defs.jobs import build_minute_job, build_news_job, build_session_job
from vol_pipeline.defs.news_schedule import build_news_poll_schedule
from vol_pipeline.defs.news_source import NewsSourceResource
from vol_pipeline.defs.partitions import market_minute_partitions
from vol_pipeline.defs.report_sensor import build_session_report_sensor
from vol_pipeline.defs.resources import BarSourceResource, WarehouseResource
from vol_pipeline.defs.retention import build_retention_job, build_retention_schedule
from vol_pipeline.defs.schedules import build_session_close_schedule
from vol_pipeline.defs.sensors import build_minute_sensor
from vol_pipeline.defs.session_partitions import session_partitions
from vol_pipeline.settings import WAREHOUSE_URL_VAR, Settings


def warehouse_resource(settings: Settings) -> WarehouseResource:
    """The URL from the environment stays an EnvVar, so Dagster never stores or shows it."""
    url = settings.warehouse_url
    if url and os.environ.get(WAREHOUSE_URL_VAR) == url:
        url = dg.EnvVar(WAREHOUSE_URL_VAR)
    return WarehouseResource(path=str(settings.warehouse_path), url=url, url_secret_id=settings.warehouse_url_secret)


def build_definitions(settings: Settings) -> dg.Definitions:
    partitions = market_minute_partitions()
    sessions = session_partitions(settings.partition_start)
    job, session_job, news_job = build_minute_job(partitions), build_session_job(sessions), build_news_job()
    retention_job = build_retention_job(settings)
    running = settings.env == "prod"
    rules = signal_rules(settings.news_on)
    warehouse = warehouse_resource(settings)
    return dg.Definitions(
        assets=[*NEWS_ASSETS, *build_minute_assets(partitions, rules, settings.watchlist or None, settings.watchlist_on,
                                                  settings.watchlist_size), *build_session_assets(sessions, rules)],
        jobs=[job, session_job, news_job, retention_job],
        sensors=[
            build_minute_sensor(job, settings.partition_start, running),
            build_session_report_sensor(job, session_job, running),
        ],
        schedules=[build_session_close_schedule(job, running), build_news_poll_schedule(news_job, settings.news, running),
                   build_retention_schedule(retention_job, running)],
        resources={
            "bar_source": BarSourceResource(
                kind=settings.source,
                alpaca_feed=settings.alpaca_feed,
                alpaca_data_url=settings.alpaca_data_url,
                alpaca_secret_id=settings.alpaca_secret_id,
                grace_seconds=settings.grace_seconds,
                bars_file=str(settings.bars_file) if settings.bars_file else None,
                tickers=ticker_text(settings.tickers),
                watchlist=ticker_text(settings.watchlist),
                seed=settings.seed,
            ),
            "news_source": NewsSourceResource(
                kind=settings.news, feeds=list(settings.news_feeds),
                news_file=str(settings.news_file) if settings.news_file else None,
                tickers=ticker_text(settings.tickers), seed=settings.seed,
            ),
            "warehouse": warehouse,
            "io_manager": WarehouseIOManager(warehouse=warehouse),
            "archive": HistoryArchiveResource(
                local_dir=str(settings.archive_dir), bucket=settings.archive_bucket, prefix=settings.archive_prefix,
                s3=S3Resource(),  # region, endpoint and credentials from the standard AWS variables / IAM role
            ),
        },
        executor=dg.in_process_executor,
    )


defs = build_definitions(Settings.from_env())
