"""news_poll: every minute, poll the live RSS/Atom feeds into news_items and news_sentiment.

The original polled its feeds every minute (reference §2). Default status: RUNNING in prod
when feeds are configured, STOPPED locally (toggle it in the UI), like the minute sensor.
Recorded and generated news are read once by `replay --news` and `demo --news` instead.
"""

import dagster as dg

NEWS_POLL_CRON = "* * * * *"


def build_news_poll_schedule(job, news_kind: str, running: bool) -> dg.ScheduleDefinition:
    @dg.schedule(
        job=job, cron_schedule=NEWS_POLL_CRON, execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING if running and news_kind == "feeds" else dg.DefaultScheduleStatus.STOPPED,
        description="Every minute: poll the RSS/Atom feeds (conditional GET), store new items once and label them.",
    )
    def news_poll(context: dg.ScheduleEvaluationContext):
        if news_kind != "feeds":
            return dg.SkipReason(f"the news source is {news_kind!r}, not live feeds (VOL_PIPELINE_NEWS=feeds with "
                                 "VOL_PIPELINE_NEWS_FEEDS): nothing to poll")
        return dg.RunRequest()

    return news_poll
