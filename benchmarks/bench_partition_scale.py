"""Partition scale: a year of market-minute partitions (~97.5k keys) against three targets.

    .venv/bin/python benchmarks/bench_partition_scale.py [--quick] [--repeats N] [--profile] [--source DIR]

1. Definitions load (target < 3 s), each sample a new Python process with
   VOL_PIPELINE_PARTITION_START one year back:
   - `build_definitions(settings)`: its first call in the process, timed after everything
     `vol_pipeline/definitions.py` imports is imported (exchange-calendars' NYSE calendar is
     built inside it, as in any new process);
   - the code location as the code server loads it: interpreter start, imports, that build,
     `get_repository_def()`, `RepositorySnap.from_def(defer_snapshots=True)` and its
     `serialize_value` (what the code server sends the webserver); wall time from the parent's
     Popen to the serialized snapshot (process exit not included).
2. One tick of `minute_sensor` (target < 1 s): `sensor.evaluate_tick(build_sensor_context(...))`
   against a real DagsterInstance (temporary DAGSTER_HOME, SQLite), the sensor's clock pinned
   at 14:01:05 New York of the last session before today, with the cursor the sensor itself
   left after catching up to 13:59 (steady state: one new minute, the 120-minute revision
   window compared). `evaluate_tick` includes Dagster's resolution of each RunRequest
   (`validate_partition_key` on the job's partitions). For information: the first tick of a
   session / a catch-up tick after downtime (no cursor: 60 run requests).
3. The UI's `PartitionHealthQuery` (target < 3 s), the query the asset's Partitions tab
   issues, its text read from the installed dagster-webserver bundle, for `recommendations`,
   run in process through dagster-graphql's schema on a `WorkspaceProcessContext` loaded from
   the project's workspace.yaml (a code server subprocess, as `dagster dev` starts it); every
   sample is a new request context, as every HTTP request is. Before it, three minute ranges of
   the last session (10 minutes, 1, 1) are materialized through the minute job into the same
   instance, so the status has three ranges. The first query (status cache built) is its own
   row; then the halves of the query (partition keys only, statuses only) for information.

Every measurement runs in a child process of its own (this file with --child). The full run
also measures the default span (30 days) for comparison. `--source DIR` runs the children
on another checkout of vol_pipeline (PYTHONPATH=DIR), to measure a change before/after.
`--profile` adds one cProfile'd sample of each measured section and writes the top functions to
results/partition_scale.profile.txt. Results: benchmarks/results/partition_scale.{json,md}.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PYTHON, RESULTS_DIR, ROOT, Row, write_results  # noqa: E402

BENCHMARK = "partition scale"
YEAR_DAYS, DEFAULT_DAYS = 365, 30
ASSET = "recommendations"
TICK_MINUTE_INDEX = 270  # 14:00 New York on a full session (the last minute on a half day)
PROFILE_PATH = RESULTS_DIR / "partition_scale.profile.txt"

# The query text as it stands in dagster-webserver 1.13.27's bundle (ui-core
# src/assets/usePartitionHealthData.tsx); used only if the installed bundle has no such query.
PARTITION_HEALTH_QUERY_FALLBACK = """
  query PartitionHealthQuery($assetKey: AssetKeyInput!) {
    assetNodeOrError(assetKey: $assetKey) {
      ... on AssetNode {
        id
        partitionKeysByDimension { name type partitionKeys }
        assetPartitionStatuses {
          ... on TimePartitionStatuses { ranges { status startTime endTime startKey endKey } }
          ... on DefaultPartitionStatuses { materializedPartitions materializingPartitions failedPartitions }
          ... on MultiPartitionStatuses {
            primaryDimensionName
            ranges {
              primaryDimStartKey primaryDimEndKey primaryDimStartTime primaryDimEndTime
              secondaryDim {
                ... on TimePartitionStatuses { ranges { status startTime endTime startKey endKey } }
                ... on DefaultPartitionStatuses { materializedPartitions materializingPartitions failedPartitions }
              }
            }
          }
        }
      }
    }
  }
"""
# The two halves of the query (our own reductions of the UI's text), for information.
KEYS_ONLY_QUERY = """query PartitionKeysOnly($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) { ... on AssetNode { id partitionKeysByDimension { name type partitionKeys } } } }"""
STATUS_ONLY_QUERY = """query PartitionStatusOnly($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) { ... on AssetNode { id assetPartitionStatuses {
    ... on TimePartitionStatuses { ranges { status startTime endTime startKey endKey } } } } } }"""


# ---------------------------------------------------------------------------------------
# The parent: children, rows, machine load


def partition_start(days: int) -> date:
    from vol_pipeline.settings import market_today

    return market_today() - timedelta(days=days)


class LoadMonitor:
    """CPU time other processes used while we ran (from /proc/stat minus this process and its
    children) and the load average before and after."""

    def __init__(self) -> None:
        self.started, self.busy, self.own, self.loadavg_before = time.monotonic(), _busy_s(), _own_cpu_s(), os.getloadavg()

    def report(self) -> dict:
        wall = time.monotonic() - self.started
        other = max(0.0, (_busy_s() - self.busy) - (_own_cpu_s() - self.own))
        cpus = len(os.sched_getaffinity(0))
        return {"wall_s": round(wall, 1), "other_cpu_s": round(other, 1), "other_share": round(other / (wall * cpus), 3),
                "loadavg_before": [round(x, 2) for x in self.loadavg_before],
                "loadavg_after": [round(x, 2) for x in os.getloadavg()], "cpus": cpus}


def _busy_s() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _fresh_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="bench_partition_scale_"))
    (home / "dagster").mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster" / "dagster.yaml")
    return home


def _child_env(home: Path, start: date, source: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOL_PIPELINE_", "DAGSTER_"))}
    env.update(VOL_PIPELINE_HOME=str(home), DAGSTER_HOME=str(home / "dagster"), VOL_PIPELINE_ENV="local",
               VOL_PIPELINE_PARTITION_START=start.isoformat(), PYTHONWARNINGS="ignore")
    if source:
        env["PYTHONPATH"] = str(source)
    return env


def _child(mode: str, start: date, source: Path | None, args: list[str] = (), timeout: float = 1800) -> dict:
    """Run this file as `--child mode` in a new process on a new home; it writes its JSON to home/out.json."""
    home = _fresh_home()
    try:
        launched = time.time()
        done = subprocess.run([str(PYTHON), __file__, "--child", mode, "--launched", repr(launched), "--out", str(home / "out.json"),
                               *args], cwd=ROOT, env=_child_env(home, start, source), capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"child {mode} failed ({done.returncode}):\n{done.stderr[-4000:]}")
        return json.loads((home / "out.json").read_text())
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run(quick: bool = False, repeats: int | None = None, profile: bool = False, source: Path | None = None) -> list[Row]:
    load_repeats = repeats or (2 if quick else 5)
    tick_repeats = repeats or (3 if quick else 7)
    query_repeats = repeats or (2 if quick else 5)
    year, default = partition_start(YEAR_DAYS), partition_start(DEFAULT_DAYS)
    spans = [(YEAR_DAYS, year)] if quick else [(YEAR_DAYS, year), (DEFAULT_DAYS, default)]
    profile_args = ["--profile"] if profile else []
    monitor = LoadMonitor()
    tag = f" [source {source}]" if source else ""

    # 1. Definitions load: one process per sample, the spans taking turns (A B A B ...).
    loads: dict[int, list[dict]] = {days: [] for days, _ in spans}
    for _ in range(load_repeats):
        for days, start in spans:
            loads[days].append(_child("load", start, source))
    if profile:  # one more process, profiled and not counted
        _child("load", year, source, profile_args)
    # 2. Sensor tick and 3. the partition page query, one child per span.
    sensors = {days: _child("sensor", start, source, ["--repeats", str(tick_repeats), *profile_args]) for days, start in spans}
    queries = {days: _child("graphql", start, source, ["--repeats", str(query_repeats), *profile_args] + (["--quick"] if quick else []))
               for days, start in spans}
    load = monitor.report()

    rows: list[Row] = []
    for days, start in spans:
        span = f"{days} days from {start}" + ("" if days == YEAR_DAYS else " (the default span, for comparison)")
        is_year = days == YEAR_DAYS
        samples = loads[days]
        keys = queries[days]["partition_keys"]
        stages = {name: [s["stages"][name] for s in samples] for name in samples[0]["stages"]}
        extra = {"span": span, "stages_s": stages, "snapshot_bytes": samples[0]["snapshot_bytes"], "exclusions": samples[0]["exclusions"],
                 "warm_rebuild_s": [s["warm_rebuild_s"] for s in samples], "partition_keys": keys}
        build = stages["build_definitions (first call)"]
        rows.append(_row(f"definitions load: build_definitions(settings), first call in a new process, {span}, {keys:,} keys{tag}",
                         build, "< 3 s", 3.0, is_year, extra,
                         "imports done before; includes building the NYSE calendar; warm rebuild in the same process: "
                         f"{statistics.median(extra['warm_rebuild_s']):.2f} s"))
        total = [s["total_s"] for s in samples]
        rows.append(_row(f"definitions load: code location in a new process (start, imports, build, repository, snapshot serialized), {span}{tag}",
                         total, "< 3 s", 3.0, is_year, extra,
                         "stages (medians): " + ", ".join(f"{k} {statistics.median(v):.2f} s" for k, v in stages.items())
                         + f"; snapshot {samples[0]['snapshot_bytes'] / 1e6:.1f} MB"))

        tick = sensors[days]
        rows.append(_row(f"minute_sensor tick, steady state (1 new minute, 120-minute revision window), {tick['tick_at']}, {span}{tag}",
                         tick["steady_s"], "< 1 s", 1.0, is_year, tick,
                         f"evaluate_tick incl. RunRequest resolution; {tick['steady_requests']} run request; "
                         f"sensor function alone {statistics.median(tick['function_s']) * 1000:.0f} ms"))
        rows.append(_row(f"minute_sensor tick, first tick of the session / catch-up after downtime (no cursor), {span}{tag}",
                         tick["catchup_s"], "-", None, False, {},
                         f"{tick['catchup_requests']} run requests (pre-resolved partition tags)"))

        query = queries[days]
        rows.append(_row(f"PartitionHealthQuery for {ASSET} (UI's Partitions tab), {span}, {keys:,} keys, "
                         f"{len(query['ranges'])} materialized ranges{tag}",
                         query["query_s"], "< 3 s", 3.0, is_year, query,
                         f"query text: {query['query_source']}; new request context per sample; after the first query"))
        rows.append(_row(f"PartitionHealthQuery, first query after the materializations (status cache built), {span}{tag}",
                         [query["first_query_s"]], "-", None, False, {}, "one sample"))
        if query.get("keys_only_s"):
            rows.append(_row(f"  its half: partitionKeysByDimension only, {span}{tag}", query["keys_only_s"], "-", None, False, {},
                             "our reduction of the UI's query"))
            rows.append(_row(f"  its half: assetPartitionStatuses only, {span}{tag}", query["status_only_s"], "-", None, False, {},
                             "our reduction of the UI's query"))
        rows.append(_row(f"workspace load for the GraphQL context (code server start + snapshot), {span}{tag}",
                         [query["workspace_load_s"]], "-", None, False, {}, "one sample; as `dagster dev` loads the location"))

    for row in rows:
        row.extra["machine_load"] = load
    return rows


def _row(name: str, samples: list[float], target: str, limit: float | None, judged: bool, extra: dict, note: str) -> Row:
    met = (statistics.median(samples) < limit) if (judged and limit is not None) else None
    return Row(BENCHMARK, name, samples, target=target if judged else "-", met=met, note=note, extra=dict(extra))


# ---------------------------------------------------------------------------------------
# Children (each writes one JSON file)


def _profiled(fn, title: str):
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        return fn()
    finally:
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(35)
        PROFILE_PATH.parent.mkdir(exist_ok=True)
        with PROFILE_PATH.open("a") as out:
            out.write(f"\n===== {title} (VOL_PIPELINE_PARTITION_START={os.environ.get('VOL_PIPELINE_PARTITION_START')}) =====\n")
            out.write(text.getvalue())


def _definitions_imports() -> list[str]:
    """Every module vol_pipeline/definitions.py imports (from its source, so a changed checkout counts right)."""
    import importlib.util

    origin = importlib.util.find_spec("vol_pipeline.definitions").origin
    names = []
    for node in ast.parse(Path(origin).read_text()).body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
            names.append(node.module)
    return names


def child_load(launched: float, profile: bool) -> dict:
    import importlib

    started = time.time()
    stages = {"interpreter start": started - launched}
    t = time.perf_counter()
    for name in _definitions_imports():
        importlib.import_module(name)
    stages["imports"] = time.perf_counter() - t

    t = time.perf_counter()
    if profile:
        module = _profiled(lambda: importlib.import_module("vol_pipeline.definitions"), "definitions load: build_definitions (module level)")
    else:
        module = importlib.import_module("vol_pipeline.definitions")  # its body: defs = build_definitions(Settings.from_env())
    stages["build_definitions (first call)"] = time.perf_counter() - t

    t = time.perf_counter()
    repository = module.defs.get_repository_def()
    stages["repository"] = time.perf_counter() - t

    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster._serdes import serialize_value

    def snapshot() -> str:
        return serialize_value(RepositorySnap.from_def(repository, defer_snapshots=True))

    t = time.perf_counter()
    text = _profiled(snapshot, "definitions load: repository snapshot + serialize") if profile else snapshot()
    stages["snapshot + serialize"] = time.perf_counter() - t
    total = time.time() - launched

    from vol_pipeline.settings import Settings

    t = time.perf_counter()
    module.build_definitions(Settings.from_env())
    warm = time.perf_counter() - t
    partitions = module.defs.resolve_job_def("minute_job").partitions_def
    return {"stages": stages, "total_s": total, "warm_rebuild_s": warm, "snapshot_bytes": len(text),
            "exclusions": len(getattr(partitions, "exclusions", None) or [])}


def _last_session_minutes() -> list[datetime]:
    from vol_pipeline.core.calendar import session_minutes_utc, sessions_between
    from vol_pipeline.settings import market_today

    today = market_today()
    session = sessions_between(today - timedelta(days=14), today - timedelta(days=1))[-1]
    return [m.replace(tzinfo=timezone.utc) for m in session_minutes_utc(session).tolist()]


def child_sensor(repeats: int, profile: bool) -> dict:
    import dagster as dg

    import vol_pipeline.defs.sensors as sensors
    from vol_pipeline.definitions import build_definitions
    from vol_pipeline.settings import Settings

    defs = build_definitions(Settings.from_env())
    instance = dg.DagsterInstance.get()  # DAGSTER_HOME: a new folder, SQLite storage
    sensor = defs.resolve_sensor_def("minute_sensor")
    resources = {"bar_source": defs.resources["bar_source"]}
    minutes = _last_session_minutes()
    minute = minutes[min(TICK_MINUTE_INDEX, len(minutes) - 1)]
    tick_at = minute + timedelta(seconds=65)
    clock = [tick_at - timedelta(minutes=1)]
    sensors.utc_now = lambda: clock[0]  # the sensor's clock; Dagster's own "now" stays real

    def tick(cursor: str | None):
        context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=resources)
        started = time.perf_counter()
        data = sensor.evaluate_tick(context)
        return time.perf_counter() - started, data

    cursor = None  # catch up to 13:59 as the sensor would: first tick from the open, 60 runs a tick
    for _ in range(20):
        _, data = tick(cursor)
        cursor = data.cursor
        if not data.run_requests:
            break
    clock[0] = tick_at
    steady, function_s = [], []
    for _ in range(repeats):
        seconds, data = tick(cursor)
        steady.append(seconds)
        assert [r.partition_key for r in data.run_requests] == [_key(minute)], data.run_requests
        context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=resources)
        started = time.perf_counter()
        sensor(context)  # the sensor function alone, without Dagster's RunRequest resolution
        function_s.append(time.perf_counter() - started)
    if profile:
        _profiled(lambda: tick(cursor), "minute_sensor steady tick (evaluate_tick)")
    catchup = []
    for _ in range(max(1, repeats // 3)):
        seconds, data = tick(None)
        catchup.append(seconds)
    if profile:
        _profiled(lambda: tick(None), "minute_sensor catch-up tick (evaluate_tick, 60 run requests)")
    return {"tick_at": f"{_key(minute)} +65 s", "steady_s": steady, "function_s": function_s, "steady_requests": 1,
            "catchup_s": catchup, "catchup_requests": len(data.run_requests), "cursor_bytes": len(cursor)}


def _key(minute: datetime) -> str:
    from vol_pipeline.defs.partitions import partition_key

    return partition_key(minute)


def partition_health_query() -> tuple[str, str]:
    """The UI's query text from the installed dagster-webserver bundle, and where it came from."""
    import dagster_webserver

    chunks = Path(dagster_webserver.__file__).parent / "webapp" / "build" / "_next" / "static" / "chunks"
    for path in sorted(chunks.glob("*.js")):
        text = path.read_text(errors="ignore")
        at = text.find("query PartitionHealthQuery(")
        if at >= 0:
            end = text.find('"', at)
            return json.loads('"' + text[at:end] + '"'), f"dagster-webserver bundle ({path.name})"
    return PARTITION_HEALTH_QUERY_FALLBACK, "fallback copy of the 1.13.27 text (not found in the bundle)"


def child_graphql(repeats: int, quick: bool, profile: bool) -> dict:
    import asyncio

    import dagster as dg
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster_graphql.schema import create_schema

    from vol_pipeline.definitions import build_definitions
    from vol_pipeline.runs import materialize_ranges
    from vol_pipeline.settings import Settings

    from vol_pipeline.core.calendar import market_minutes_between
    from vol_pipeline.defs.partitions import register_minutes

    settings = Settings.from_env()
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.get()
    # Minute keys are registered (dynamic partitions): every market minute of the span, as the
    # sensor would have added them.
    span_start = datetime.combine(settings.partition_start, datetime.min.time(), timezone.utc)
    register_minutes(instance, market_minutes_between(span_start, datetime.now(timezone.utc)))
    minutes = _last_session_minutes()
    ranges = [(minutes[30], minutes[39]), (minutes[100], minutes[100]), (minutes[200], minutes[200])]
    for first, last in ranges:
        result = materialize_ranges(defs, instance, [(first, last)])[-1]
        assert result.success, f"setup run {result.run_id} failed"

    query, source = partition_health_query()
    schema = create_schema()
    variables = {"assetKey": {"path": [ASSET]}}

    started = time.perf_counter()
    with WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[str(ROOT / "workspace.yaml")])) as process:
        workspace_load = time.perf_counter() - started
        errors = process.create_request_context().code_location_errors()
        assert not errors, errors

        def execute(text: str) -> tuple[float, dict]:
            context = process.create_request_context()  # what each HTTP request gets
            started = time.perf_counter()
            result = asyncio.run(schema.execute_async(text, context_value=context, variable_values=variables))
            seconds = time.perf_counter() - started
            assert not result.errors, result.errors
            return seconds, result.data["assetNodeOrError"]

        first_s, node = execute(query)
        samples = [execute(query)[0] for _ in range(repeats)]
        keys_only = [] if quick else [execute(KEYS_ONLY_QUERY)[0] for _ in range(2)]
        status_only = [] if quick else [execute(STATUS_ONLY_QUERY)[0] for _ in range(2)]
        if profile:
            _profiled(lambda: execute(query), "PartitionHealthQuery")
    return {"query_s": samples, "first_query_s": first_s, "keys_only_s": keys_only, "status_only_s": status_only,
            "workspace_load_s": workspace_load, "query_source": source,
            "partition_keys": len(node["partitionKeysByDimension"][0]["partitionKeys"]),
            "ranges": [(r["startKey"], r["endKey"], r["status"]) for r in node["assetPartitionStatuses"].get("ranges") or []],
            "materialized_partitions": len(node["assetPartitionStatuses"].get("materializedPartitions") or [])}


# ---------------------------------------------------------------------------------------


def markdown_notes(rows: list[Row]) -> str:
    load = rows[0].extra["machine_load"]
    lines = [f"Machine load: other processes used {load['other_cpu_s']} CPU-s during the {load['wall_s']} s run "
             f"({load['other_share']:.0%} of {load['cpus']} CPUs); load average {load['loadavg_before'][0]} before, "
             f"{load['loadavg_after'][0]} after.", ""]
    lines.append("Definitions load, stages per process (medians, s):")
    lines.append("")
    for row in rows:
        if "stages_s" in row.extra and row.name.startswith("definitions load: code location"):
            stages = row.extra["stages_s"]
            lines.append(f"- {row.extra['span']}: " + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in stages.items())
                         + f"; {row.extra['exclusions']:,} exclusions; snapshot {row.extra['snapshot_bytes'] / 1e6:.2f} MB")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="year span only, 2 samples each (~3 min)")
    parser.add_argument("--repeats", type=int, help="samples per measurement")
    parser.add_argument("--profile", action="store_true", help=f"cProfile one sample of each; top functions to {PROFILE_PATH.name}")
    parser.add_argument("--source", type=Path, help="run the children on this checkout of vol_pipeline (PYTHONPATH)")
    parser.add_argument("--child", choices=["load", "sensor", "graphql"], help=argparse.SUPPRESS)
    parser.add_argument("--launched", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        if args.child == "load":
            out = child_load(args.launched, args.profile)
        elif args.child == "sensor":
            out = child_sensor(args.repeats, args.profile)
        else:
            out = child_graphql(args.repeats, args.quick, args.profile)
        args.out.write_text(json.dumps(out, default=str))
        return

    if args.profile and PROFILE_PATH.exists():
        PROFILE_PATH.unlink()
    rows = run(args.quick, args.repeats, args.profile, args.source.resolve() if args.source else None)
    path = write_results("partition_scale", rows)
    path.write_text(path.read_text() + "\n" + markdown_notes(rows))
    print(path.read_text())


if __name__ == "__main__":
    main()
