"""Where cold history goes: Parquet files per table and session, in S3 or a local folder.

Production (VOL_PIPELINE_ARCHIVE_BUCKET set) writes through dagster-aws's S3Resource;
locally the same keys are files under VOL_PIPELINE_HOME/archive. Keys:
`<prefix>/<table>/session=<YYYY-MM-DD>/<table>.parquet`, so re-archiving a session
overwrites its files (idempotent) and tools that read hive-style partitions see the date.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_aws.s3 import S3Resource


def archive_key(prefix: str, table: str, session: str) -> str:
    return f"{prefix.strip('/')}/{table}/session={session}/{table}.parquet"


class HistoryArchiveResource(dg.ConfigurableResource):
    local_dir: str
    bucket: str | None = None  # set: write to this S3 bucket instead of local_dir
    prefix: str = "vol_pipeline/history"
    s3: S3Resource

    def put(self, table: str, session: str, data: bytes) -> str:
        """Store one Parquet file; returns where it went (s3://... or a path)."""
        key = archive_key(self.prefix, table, session)
        if self.bucket:
            self.s3.get_client().put_object(Bucket=self.bucket, Key=key, Body=data)
            return f"s3://{self.bucket}/{key}"
        path = Path(self.local_dir) / key
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".parquet.tmp")
        temporary.write_bytes(data)
        temporary.replace(path)  # a reader never sees half a file
        return str(path)
