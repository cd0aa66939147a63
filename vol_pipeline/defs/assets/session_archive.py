"""session_archive: a session's rows of every warehouse table as Parquet in the archive.

Cold history for analysts and for pruning the warehouse later; the warehouse stays the
source of truth, so archiving again overwrites the same files.
"""

import io

import dagster as dg
import polars as pl

from vol_pipeline.defs.archive import HistoryArchiveResource
from vol_pipeline.defs.assets.common import SESSION_GROUP
from vol_pipeline.defs.resources import WarehouseResource
from vol_pipeline.defs.session_partitions import session_bounds, session_of_key, session_start_utc
from vol_pipeline.storage.tables import TABLES


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def build_session_archive(sessions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="session_archive",
        deps=["session_report"],
        partitions_def=sessions,
        group_name=SESSION_GROUP,
        owners=["team:quant-ops"],
        kinds={"parquet", "s3"},
        description="Every warehouse table's rows of the session as Parquet, in S3 (production) or "
                    "VOL_PIPELINE_HOME/archive (local): <prefix>/<table>/session=<date>/<table>.parquet.",
    )
    def session_archive(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                        archive: HistoryArchiveResource) -> dg.MaterializeResult:
        session = session_of_key(context.partition_key)
        first_bar, close = session_bounds(session)
        day_start = session_start_utc(session)
        store = warehouse.get()
        rows, places = {}, {}
        for name, tbl in TABLES.items():
            # Minute tables by bar time; the per-session ones (outcomes, reports) by their day.
            per_session = tbl.partition_column in ("entry_ts", "session_start")
            start, end = (day_start, close) if per_session else (first_bar, close)
            frame = store.read(name, start, end)
            places[name] = archive.put(name, session.isoformat(), _parquet(frame))
            rows[name] = frame.height
        return dg.MaterializeResult(metadata={
            "rows": dg.MetadataValue.json(rows),
            "files": dg.MetadataValue.json(places),
        })

    return session_archive
