"""The Dagster UI on a realistic instance: page render times in headless Chromium, how long
the webserver stays busy afterwards, and the Partitions page at a year of minute keys.

    .venv/bin/python benchmarks/bench_ui.py [--quick] [--repeats N] [--keep]

Two instances, each on a fresh VOL_PIPELINE_HOME / DAGSTER_HOME (the repo-root dagster.yaml,
as `dagster dev` uses it), built the same way apart from how many keys are registered:
- keys: a month (the 21 sessions before the demo session, the demo session, the last closed
  session; ~8.8k keys) or a year (every session of the last 365 days; ~98k keys), registered
  oldest first;
- the demo session (the one before the last closed session) by `vol-pipeline demo --session`
  (one range run, checks recorded per minute);
- the last closed session by single-minute runs, one per market minute (390; what the minute
  sensor does), each `execute_in_process(partition_key=...)` of minute_job. `--quick`: 60.

Then `dagster dev -w workspace.yaml` (webserver + daemon) on the instance and Chromium on it.
Per round (--repeats, default 3; the first round is a first visit: cold browser cache, cold
webserver), for each page the time from `driver.get` to rendered:
- asset graph of group minute_pipeline: every minute asset's node shows its partition count,
  "% filled" and (assets with checks) "n / n Passed";
- recommendations / lane_features Partitions page: "N Partitions Selected", "Materialized (M)"
  and the first key's row with its status dot;
- recommendations / lane_features Checks tab: every check "Succeeded", the latest execution
  "Passed" on its partition;
(with the webserver's CPU time during each page) and after the last page of a round, how
long the dagster_webserver process stays busy: /proc/<pid>/stat sampled every 0.5 s until two
samples in a row use < 10% of a core (the time until the first of them), also counted from
the navigation to that page; then the share of a core the open page's own polling costs
(over 10 s).
Also timed: the Partitions tab's PartitionHealthQuery (its text from the installed UI bundle,
see bench_partition_scale.py) over HTTP against the same webserver, for recommendations.
Targets (the issue): each page < 3 s after navigation, the webserver idle again < 5 s; the
year rows are judged against the same 3 s.

Results: benchmarks/results/ui.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))
from common import ROOT, Row, write_results  # noqa: E402

BENCHMARK = "ui"
PAGE_TARGET_S, IDLE_TARGET_S = 3.0, 5.0
MONTH_SESSIONS = 23  # 21 sessions before the demo session, the demo session, the sensor session
YEAR_DAYS = 365


@dataclass
class Built:
    """One benchmark instance on disk."""

    label: str  # "month" / "year"
    home: Path
    partition_start: date
    demo_session: date
    sensor_session: date
    registered: int
    single_minute_runs: int
    materialized: int  # minute partitions of recommendations materialized
    build_s: dict[str, float] = field(default_factory=dict)


def sessions_for(label: str) -> tuple[list[date], date, date]:
    """(sessions whose minutes are registered, demo session, sensor session)."""
    from vol_pipeline.core.calendar import sessions_between
    from vol_pipeline.settings import market_today

    today = market_today()
    recent = sessions_between(today - timedelta(days=70), today - timedelta(days=1))
    demo, sensor = recent[-2], recent[-1]
    if label == "month":
        return recent[-MONTH_SESSIONS:], demo, sensor
    return sessions_between(today - timedelta(days=YEAR_DAYS), sensor), demo, sensor


def build(label: str, single_minutes: int) -> Built:
    from vol_pipeline.core.calendar import market_minutes_between, session_minutes_utc
    from vol_pipeline.definitions import build_definitions
    from vol_pipeline.defs.jobs import MINUTE_JOB
    from vol_pipeline.defs.partitions import partition_key, register_minutes
    from vol_pipeline.runs import QUIET_RUN_CONFIG, cli_instance, failure_message
    from vol_pipeline.settings import Settings
    from vol_pipeline_tests.webserver import prepare_home, server_env

    sessions, demo, sensor = sessions_for(label)
    home = Path(tempfile.mkdtemp(prefix=f"bench_ui_{label}_"))
    prepare_home(home)
    settings = Settings(home=home, partition_start=sessions[0])
    env = server_env(home, {"VOL_PIPELINE_PARTITION_START": sessions[0].isoformat()})
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]  # the repo-root dagster.yaml finds its event log through it
    built = Built(label, home, sessions[0], demo, sensor, 0, single_minutes, 0)

    started = time.perf_counter()
    minutes = market_minutes_between(datetime.combine(sessions[0], datetime.min.time(), timezone.utc),
                                     datetime.combine(sensor + timedelta(days=1), datetime.min.time(), timezone.utc))
    with cli_instance(settings) as instance:
        built.registered = len(register_minutes(instance, minutes))
    built.build_s["register keys"] = time.perf_counter() - started
    print(f"[{label}] {built.registered:,} keys registered in {built.build_s['register keys']:.1f} s", flush=True)

    started = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).parent / "vol-pipeline"), "demo", "--session", demo.isoformat()],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"vol-pipeline demo failed ({done.returncode}):\n{done.stderr[-4000:]}")
    built.build_s["demo (range run)"] = time.perf_counter() - started
    print(f"[{label}] demo {demo} in {built.build_s['demo (range run)']:.1f} s", flush=True)

    started = time.perf_counter()
    job = build_definitions(settings).resolve_job_def(MINUTE_JOB)
    runs = [m.replace(tzinfo=timezone.utc) for m in session_minutes_utc(sensor).tolist()][:single_minutes]
    with cli_instance(settings) as instance:
        for number, minute in enumerate(runs, start=1):
            result = job.execute_in_process(run_config=QUIET_RUN_CONFIG, instance=instance, partition_key=partition_key(minute),
                                            tags={"vol_pipeline/trigger": "new_minute"}, raise_on_error=False)
            if not result.success:
                raise RuntimeError(failure_message(result))
            if number % 60 == 0:
                print(f"[{label}] {number}/{len(runs)} single-minute runs", flush=True)
    built.build_s["single-minute runs"] = time.perf_counter() - started
    built.single_minute_runs = len(runs)
    built.materialized = len(session_minutes_utc(demo)) + len(runs)
    print(f"[{label}] {len(runs)} single-minute runs of {sensor} in {built.build_s['single-minute runs']:.1f} s", flush=True)
    return built


# ---------------------------------------------------------------------------------------
# Measuring in the browser


def new_browser(profile: Path):
    from vol_pipeline_tests.test_ui_browser import start_chromium

    return start_chromium(profile)


def pages(built: Built, url: str, checks: dict[str, list[str]]) -> dict[str, tuple[str, list[str]]]:
    """page name -> (address, xpaths that are all visible once it has rendered)."""
    from vol_pipeline_tests.test_ui_browser import MINUTE_ASSETS, graph_node, node_row, text_is

    graph = []
    for asset in MINUTE_ASSETS:
        graph += [f"{graph_node(asset)}//a[{text_is(f'{built.registered:,} partitions')}]",
                  f"{node_row(asset, 'Partitions')}[contains(normalize-space(), '% filled')]"]
        if checks[asset]:
            passed = f"{len(checks[asset])} / {len(checks[asset])} Passed"
            graph.append(f"{node_row(asset, 'Asset checks')}[.//span[{text_is(passed)}]]")
    first = f"{built.partition_start.isoformat()}-09:30"
    result = {"asset graph (minute_pipeline, every node with status)":
              (f"{url}/locations/vol_pipeline/asset-groups/minute_pipeline", graph)}
    for asset in ("recommendations", "lane_features"):
        result[f"{asset} Partitions page"] = (f"{url}/assets/{asset}?view=partitions", [
            f"//*[{text_is(f'{built.registered:,} Partitions Selected')}]",
            f"//*[{text_is(f'Materialized ({built.materialized})')}]",
            f"//div[@data-tooltip='{first}']/following-sibling::div[contains(@style, 'border-radius')]",
        ])
        result[f"{asset} Checks tab"] = (f"{url}/assets/{asset}?view=checks", [
            *[f"//div[@title='{check}']/following-sibling::span[{text_is('Succeeded')}]" for check in checks[asset]],
            "//span[@data-tooltip='Passed']",
            f"//span[{text_is('Partition')}]/following-sibling::div[string-length(normalize-space()) = 16]",
        ])
    return result


def time_page(driver, address: str, xpaths: list[str]) -> float:
    from vol_pipeline_tests.test_ui_browser import visible

    started = time.perf_counter()
    driver.get(address)
    for xpath in xpaths:
        visible(driver, xpath)
    return time.perf_counter() - started


def partition_health_seconds(server, repeats: int) -> list[float]:
    import httpx

    from bench_partition_scale import partition_health_query

    query, _ = partition_health_query()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = httpx.post(f"{server.url}/graphql", json={"query": query, "variables": {"assetKey": {"path": ["recommendations"]}}},
                              timeout=300)
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
        assert "errors" not in response.json(), response.json()["errors"]
    return samples


def measure(built: Built, repeats: int) -> dict:
    from vol_pipeline_tests.test_ui_browser import _kill_chromium_left_on, minute_checks
    from vol_pipeline_tests.webserver import busy_until_idle, child_pid, cpu_seconds, running_dagster_dev

    out: dict = {"pages_s": {}, "pages_webserver_cpu_s": {}, "busy_s": [], "busy_cpu_s": [], "busy_samples": [],
                 "idle_after_navigation_s": [], "steady_cpu_share": []}
    started = time.perf_counter()
    with running_dagster_dev(built.home, {"VOL_PIPELINE_PARTITION_START": built.partition_start.isoformat()}) as dev:
        out["dagster_dev_start_s"] = time.perf_counter() - started
        server = dev.server
        server.graphql("mutation { setNuxSeen }")  # else the community dialog covers the pages
        webserver = child_pid(dev.pid, "dagster_webserver")
        plan = pages(built, server.url, minute_checks(server))
        profile = Path(tempfile.mkdtemp(prefix="bench_ui_chromium_"))
        driver = new_browser(profile)
        try:
            cpu_before = cpu_seconds(webserver)
            for round_number in range(repeats):
                for name, (address, xpaths) in plan.items():
                    cpu = cpu_seconds(webserver)
                    seconds = time_page(driver, address, xpaths)
                    out["pages_s"].setdefault(name, []).append(seconds)
                    out["pages_webserver_cpu_s"].setdefault(name, []).append(round(cpu_seconds(webserver) - cpu, 2))
                    print(f"[{built.label}] round {round_number + 1}: {name} {seconds:.2f} s", flush=True)
                busy = busy_until_idle(webserver, timeout=120)
                out["idle_after_navigation_s"].append(seconds + busy.seconds)
                # The page left open: its own polling, as a share of one core over 10 s.
                cpu = cpu_seconds(webserver)
                time.sleep(10)
                out["steady_cpu_share"].append(round((cpu_seconds(webserver) - cpu) / 10, 3))
                out["busy_s"].append(busy.seconds)
                out["busy_cpu_s"].append(busy.cpu_s)
                out["busy_samples"].append(busy.samples)
                print(f"[{built.label}] round {round_number + 1}: webserver busy {busy.seconds} s after the last page rendered; "
                      f"page left open: {out['steady_cpu_share'][-1]:.1%} of a core", flush=True)
            out["webserver_cpu_s_all_rounds"] = cpu_seconds(webserver) - cpu_before
            driver.get("about:blank")
            out["partition_health_query_s"] = partition_health_seconds(server, max(3, repeats))
        finally:
            driver.quit()
            _kill_chromium_left_on(profile)
            shutil.rmtree(profile, ignore_errors=True)
    return out


# ---------------------------------------------------------------------------------------


def run(quick: bool = False, repeats: int | None = None, keep: bool = False) -> list[Row]:
    from bench_partition_scale import LoadMonitor

    repeats = repeats or (2 if quick else 3)
    single = 60 if quick else 390
    rows: list[Row] = []
    monitor = LoadMonitor()
    for label in ("month", "year"):
        built = build(label, single)
        try:
            measured = measure(built, repeats)
        finally:
            if not keep:
                shutil.rmtree(built.home, ignore_errors=True)
            else:
                print(f"[{label}] kept {built.home}")
        what = (f"{label}: {built.registered:,} keys from {built.partition_start}, demo {built.demo_session}, "
                f"{built.single_minute_runs} single-minute runs on {built.sensor_session}")
        extra = {"instance": what, "build_s": {k: round(v, 1) for k, v in built.build_s.items()},
                 "dagster_dev_start_s": round(measured["dagster_dev_start_s"], 1),
                 "webserver_cpu_s_all_rounds": round(measured["webserver_cpu_s_all_rounds"], 2)}
        for name, samples in measured["pages_s"].items():
            cpu = measured["pages_webserver_cpu_s"][name]
            rows.append(Row(BENCHMARK, f"{label} ({built.registered:,} keys): {name}", samples,
                            target=f"< {PAGE_TARGET_S:.0f} s", met=statistics.median(samples) < PAGE_TARGET_S,
                            note=f"navigation -> rendered; first visit {samples[0]:.2f} s; webserver CPU {statistics.median(cpu):.2f} s",
                            extra={**extra, "webserver_cpu_s": cpu}))
        busy = measured["busy_s"]
        rows.append(Row(BENCHMARK, f"{label} ({built.registered:,} keys): webserver busy after the last page rendered", busy,
                        target=f"< {IDLE_TARGET_S:.0f} s", met=statistics.median(busy) < IDLE_TARGET_S,
                        note=f"until 2 samples of 0.5 s < 10% of a core (CPU in that time {measured['busy_cpu_s']}); "
                             f"the page left open then uses {statistics.median(measured['steady_cpu_share']):.1%} of a core",
                        extra={**extra, "samples_cpu_s": measured["busy_samples"], "steady_cpu_share": measured["steady_cpu_share"]}))
        idle = measured["idle_after_navigation_s"]
        rows.append(Row(BENCHMARK, f"{label} ({built.registered:,} keys): webserver idle again, from navigation to the last page",
                        idle, target=f"< {IDLE_TARGET_S:.0f} s", met=statistics.median(idle) < IDLE_TARGET_S,
                        note="render time of the last page (lane_features Checks tab) + busy after it", extra=dict(extra)))
        health = measured["partition_health_query_s"]
        rows.append(Row(BENCHMARK, f"{label} ({built.registered:,} keys): PartitionHealthQuery for recommendations over HTTP",
                        health, target=f"< {PAGE_TARGET_S:.0f} s", met=statistics.median(health) < PAGE_TARGET_S,
                        note=f"the Partitions tab's query; first {health[0]:.2f} s", extra=dict(extra)))
    load = monitor.report()
    for row in rows:
        row.extra["machine_load"] = load
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 single-minute runs instead of 390, 2 rounds")
    parser.add_argument("--repeats", type=int, help="rounds of page visits per instance (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the instances' homes (printed)")
    args = parser.parse_args(argv)
    rows = run(args.quick, args.repeats, args.keep)
    load = rows[0].extra["machine_load"]
    path = write_results("ui", rows)
    path.write_text(path.read_text() + f"\nMachine load: other processes used {load['other_cpu_s']} CPU-s during the "
                    f"{load['wall_s']} s run ({load['other_share']:.0%} of {load['cpus']} CPUs).\n\n"
                    + "\n".join(f"- {r.extra['instance']}: build {r.extra['build_s']}, dagster dev start "
                                f"{r.extra['dagster_dev_start_s']} s" for r in rows if "webserver busy" in r.name) + "\n")
    print(path.read_text())


if __name__ == "__main__":
    main()
