"""News items: identity, clean text and the checks an item must pass (reference §6).

- `event_uid` = sha256 of the guid, else the link, else "title:published" (as the
  original), so an item repeated by one feed or carried by several is stored once.
- Text is plain: tags dropped, entities decoded, whitespace collapsed (feeds put HTML in
  summaries and escape titles).
- An item without a date takes the time it was fetched (the original's classifier
  effectively did the same through its created_at); `dated_by` says which it was.
- Rejected, with a reason per item: no title and no summary; published more than
  FUTURE_TOLERANCE after it was fetched (a wrong clock or time zone in the feed).
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import timedelta

import polars as pl

UTC_TS = pl.Datetime("us", "UTC")
FUTURE_TOLERANCE = timedelta(minutes=5)
RAW_ITEM_SCHEMA = {
    "feed": pl.String, "guid": pl.String, "link": pl.String, "title": pl.String, "summary": pl.String,
    "published_at": UTC_TS, "dated_by": pl.String, "fetched_at": UTC_TS,
}
ITEM_SCHEMA = {"event_uid": pl.String, **RAW_ITEM_SCHEMA}
REJECTED_ITEM_SCHEMA = {**ITEM_SCHEMA, "reason": pl.String}

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def clean_text(text: str | None) -> str:
    """Plain text from a feed field that may hold HTML and entities."""
    if not text:
        return ""
    without_tags = _TAG.sub(" ", text)
    return _SPACE.sub(" ", html.unescape(without_tags)).strip()


def event_uid(guid: str | None, link: str | None, title: str | None, published: str | None) -> str:
    """sha256 hex of the first identity an item has: guid, link, or 'title:published'."""
    identity = (guid or "").strip() or (link or "").strip() or f"{title or ''}:{published or ''}"
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()


def check_items(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """(valid items, rejected items with a reason, repeats dropped). Repeats of one event_uid
    in the batch keep the first; they are not errors (feeds repeat items all the time)."""
    frame = raw.cast(ITEM_SCHEMA)
    dated = frame.with_columns(
        dated_by=pl.when(pl.col("published_at").is_null()).then(pl.lit("fetched")).otherwise(pl.col("dated_by")),
        published_at=pl.coalesce("published_at", "fetched_at"),
    )
    empty = (pl.col("title").fill_null("") == "") & (pl.col("summary").fill_null("") == "")
    future = pl.col("published_at") > pl.col("fetched_at") + FUTURE_TOLERANCE
    reason = (
        pl.when(empty).then(pl.lit("title failed 'an item has a title or a summary'"))
        .when(future).then(pl.lit(f"published_at failed 'not later than fetched_at + {FUTURE_TOLERANCE}'"))
    )
    checked = dated.with_columns(reason=reason)
    rejected = checked.filter(pl.col("reason").is_not_null()).select(REJECTED_ITEM_SCHEMA.keys())
    passed = checked.filter(pl.col("reason").is_null()).drop("reason")
    valid = passed.unique("event_uid", keep="first", maintain_order=True)
    return valid, rejected, passed.height - valid.height
