"""PostgreSQL connection URLs: one normal form for the drivers, and a form safe to print."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_SCHEME = re.compile(r"^postgres(?:ql)?(?:\+[a-z0-9_]+)?://", re.IGNORECASE)


def is_postgres_url(url: str) -> bool:
    return bool(_SCHEME.match(url))


def driver_url(url: str) -> str:
    """`postgresql://...` for libpq-based drivers (drops a SQLAlchemy `+driver` suffix)."""
    if not is_postgres_url(url):
        raise ValueError("VOL_PIPELINE_WAREHOUSE_URL must start with postgresql:// (value not shown)")
    return _SCHEME.sub("postgresql://", url, count=1)


def redacted(url: str) -> str:
    """The URL with user and password removed: host, port and database only."""
    parts = urlsplit(driver_url(url))
    try:
        host, port = parts.hostname or "", parts.port
    except ValueError:  # e.g. an unencoded '#' or '/' in the password: the message would quote it
        raise ValueError("the PostgreSQL URL is malformed (value not shown); "
                         "percent-encode special characters in the password") from None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
