"""The Dagster UI in a real browser: headless Chromium (selenium) on `dagster dev` (the
webserver AND the daemon, as README "The Dagster UI" starts it) over a session-sized instance.

The instance (built once for the module, ~1-1.5 min on 2 cores):
- a month of `market_minutes` keys registered oldest first: the 21 sessions before the demo
  session, the demo session and the last closed session (~9k keys);
- the demo session materialized by `vol-pipeline demo --session ...` (range runs, whose
  checks are recorded per minute);
- 60 minutes of the last closed session (10:00-10:59) materialized as the minute sensor does
  it: one single-minute run each (execute_in_process(partition_key=...)). A full session
  would be 390 such runs (~4-5 min); benchmarks/bench_ui.py measures that instance.

What a person would do (README "The Dagster UI"; each page is confirmed through GraphQL too):
a. the asset graph of group minute_pipeline shows every minute asset with its status
   (partitions filled, asset checks passed);
b. the Partitions page and the Checks tab of `recommendations` and `lane_features` render;
   how long each took from navigation to rendered is printed and kept in timings.json, as is
   how long the webserver stayed busy after the last page (no timing asserts here: the
   benchmark measures; a page that never renders or a webserver that never settles fails);
c. from the minute_pipeline group's "Materialize all" dialog: one registered, never
   materialized minute (one run), then a 30-minute range (09:30-09:59, the dialog's filter
   "<session>-09:" + "Select all": one backfill, one run by BackfillPolicy.single_run); the
   daemon launches them; the runs succeed, the partitions turn green and their checks pass
   per partition;
d. minute_sensor and session_close_schedule switched on and off from their pages.

Screenshots of every step (and the page source on failure) go to
$VOL_PIPELINE_TEST_ARTIFACTS/ui (default <repo>/test-artifacts/ui), with timings.json.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import pytest

from vol_pipeline_tests.webserver import (
    ROOT, Webserver, busy_until_idle, child_pid, instigator_state, prepare_home, running_dagster_dev, server_env,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# The machine has no internet: without the network flags Chromium stalls on its own
# background requests (updates, sync, QUIC probes).
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1600,1000",
)
UI_TIMEOUT_S = 60  # generous: 2 cores, and the UI fetches statuses after the layout
RUN_TIMEOUT_S = 300  # a run launched from the UI: queue, a new process, the chain (~10-20 s unloaded)
IDLE_TIMEOUT_S = 60  # the webserver must settle after the pages (the goal is < 5 s; measured, not asserted)
MINUTE_ASSETS = ("bars", "bars_quarantine", "lane_features", "watchlist", "signals", "recommendations", "executions")
CHAIN = ("bars", "lane_features", "signals", "recommendations")
CHECKS = ("pandera_contract", "confidence_formula")  # recommendations' checks (vol_pipeline/defs/checks.py)
SENSOR, SCHEDULE = "minute_sensor", "session_close_schedule"
MONTH_SESSIONS = 23  # registered: 21 sessions before the demo session, the demo session, the sensor session
SENSOR_MINUTES = 60  # single-minute runs on the sensor session (a full session is 390: the benchmark)
SENSOR_FIRST_MINUTE = 30  # from 10:00: 09:30-09:59 stays for the dialog's 30-minute backfill
ONE_MINUTE = 120  # 11:30 of the sensor session: the dialog's one-minute run (registered, never materialized)
BACKFILL_MINUTES = 30  # 09:30-09:59 of the sensor session: the dialog's filter "<session>-09:" picks exactly these
ARTIFACTS = Path(os.environ.get("VOL_PIPELINE_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "ui"


def _require(available: bool, reason: str) -> None:
    """Skip when a browser piece is missing, except in CI, which must run this test."""
    if not available:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the browser test must run)")
        pytest.skip(reason)


def require_browser() -> None:
    _require(CHROMIUM.exists(), f"{CHROMIUM} is missing (apt-get install chromium)")
    _require(CHROMEDRIVER.exists(), f"{CHROMEDRIVER} is missing (apt-get install chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        _require(False, "selenium is not installed (pip install -e '.[dev]')")


# --- data and server ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Instance:
    """What build_instance put into the instance."""

    partition_start: date  # the first registered session (VOL_PIPELINE_PARTITION_START)
    demo_session: date
    sensor_session: date
    registered: int  # market_minutes keys
    sensor_keys: tuple[str, ...]  # materialized by single-minute runs
    one_minute: str  # registered, never materialized: the dialog's one-run flow
    backfill_keys: tuple[str, ...]  # registered, never materialized: the dialog's backfill flow
    demo_minutes: int  # 390, or 210 on a half day
    build_s: dict[str, float]

    @property
    def backfill_filter(self) -> str:
        """What the dialog's partition filter is given: matches exactly the 30 keys 09:30-09:59."""
        return f"{self.sensor_session.isoformat()}-09:"

    @property
    def materialized(self) -> int:
        """Minute partitions of each minute asset but bars materialized (and checked) before the UI flows."""
        return self.demo_minutes + len(self.sensor_keys)


def build_instance(home: Path) -> Instance:
    """Register a month of minute keys, `vol-pipeline demo` one session, then SENSOR_MINUTES
    single-minute runs of the next session (see the module doc). `home` is VOL_PIPELINE_HOME
    with its instance in home/dagster (prepare_home: the repo-root dagster.yaml)."""
    from vol_pipeline.core.calendar import market_minutes_between, session_minutes_utc, sessions_between
    from vol_pipeline.definitions import build_definitions
    from vol_pipeline.defs.jobs import MINUTE_JOB
    from vol_pipeline.defs.partitions import partition_key, register_minutes
    from vol_pipeline.runs import QUIET_RUN_CONFIG, cli_instance, failure_message
    from vol_pipeline.settings import Settings, market_today

    today = market_today()
    sessions = sessions_between(today - timedelta(days=70), today - timedelta(days=1))[-MONTH_SESSIONS:]
    first, demo, sensor = sessions[0], sessions[-2], sessions[-1]
    settings = Settings(home=home, partition_start=first)
    env = server_env(home, {"VOL_PIPELINE_PARTITION_START": first.isoformat()})
    build_s: dict[str, float] = {}
    sensor_minutes = [m.replace(tzinfo=timezone.utc) for m in session_minutes_utc(sensor).tolist()]

    with pytest.MonkeyPatch.context() as patch:
        # The repo-root dagster.yaml finds the event log through DAGSTER_HOME, as `dagster dev` does.
        patch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
        started = time.monotonic()
        month = market_minutes_between(datetime.combine(first, datetime.min.time(), timezone.utc),
                                       datetime.combine(sensor + timedelta(days=1), datetime.min.time(), timezone.utc))
        with cli_instance(settings) as instance:
            keys = register_minutes(instance, month)  # oldest first: Dagster's key order is time order
        build_s["register"] = time.monotonic() - started

        started = time.monotonic()
        done = subprocess.run([str(Path(sys.executable).parent / "vol-pipeline"), "demo", "--session", demo.isoformat()],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"vol-pipeline demo failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        build_s["demo"] = time.monotonic() - started

        started = time.monotonic()
        job = build_definitions(settings).resolve_job_def(MINUTE_JOB)
        runs = sensor_minutes[SENSOR_FIRST_MINUTE:SENSOR_FIRST_MINUTE + SENSOR_MINUTES]
        with cli_instance(settings) as instance:
            for minute in runs:  # what the minute sensor requests: one run per closed minute
                result = job.execute_in_process(
                    run_config=QUIET_RUN_CONFIG, instance=instance, partition_key=partition_key(minute),
                    tags={"vol_pipeline/trigger": "new_minute"}, raise_on_error=False,
                )
                assert result.success, failure_message(result)
        build_s["single_minute_runs"] = time.monotonic() - started

    return Instance(
        partition_start=first, demo_session=demo, sensor_session=sensor, registered=len(keys),
        sensor_keys=tuple(partition_key(m) for m in runs), one_minute=partition_key(sensor_minutes[ONE_MINUTE]),
        backfill_keys=tuple(partition_key(m) for m in sensor_minutes[:BACKFILL_MINUTES]),
        demo_minutes=len(session_minutes_utc(demo)), build_s=build_s,
    )


@dataclass(frozen=True)
class Ui:
    server: Webserver
    webserver_pid: int  # the dagster_webserver process `dagster dev` started
    data: Instance
    launched: set[str] = field(default_factory=set)  # minute keys materialized through the UI so far
    timings: dict[str, float] = field(default_factory=dict)  # page -> seconds from navigation to rendered

    @property
    def materialized(self) -> int:
        return self.data.materialized + len(self.launched)


@pytest.fixture(scope="module")
def ui(tmp_path_factory) -> Iterator[Ui]:
    require_browser()  # before the expensive part: skip (or fail in CI) at once
    home = tmp_path_factory.mktemp("ui_browser")
    prepare_home(home)
    data = build_instance(home)
    print(f"\ninstance: {data.registered:,} keys from {data.partition_start}; demo {data.demo_session}, "
          f"{len(data.sensor_keys)} single-minute runs on {data.sensor_session}; "
          + ", ".join(f"{k} {v:.1f} s" for k, v in data.build_s.items()))
    with running_dagster_dev(home, {"VOL_PIPELINE_PARTITION_START": data.partition_start.isoformat()}) as dev:
        # The UI's first-visit "Join the Dagster community" dialog (shown on localhost) would
        # cover every page; the instance records it as seen, as the dialog's Skip button does.
        assert dev.server.graphql("mutation { setNuxSeen }")["setNuxSeen"] is True
        ui = Ui(dev.server, child_pid(dev.pid, "dagster_webserver"), data)
        try:
            yield ui
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "timings.json").write_text(json.dumps(
                {"pages_s": ui.timings, "build_s": data.build_s, "registered_keys": data.registered,
                 "single_minute_runs": len(data.sensor_keys)}, indent=2) + "\n")


# --- browser -----------------------------------------------------------------------------------
def start_chromium(profile: Path):
    """Debian's headless Chromium through its ChromeDriver, on its own profile folder (also
    used by benchmarks/bench_ui.py)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # Explicit driver and binary: Selenium Manager would otherwise try to download them.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(UI_TIMEOUT_S)
    return driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    require_browser()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = tmp_path_factory.mktemp("chromium_profile")
    driver = start_chromium(profile)
    try:
        yield driver
    finally:
        driver.quit()
        _kill_chromium_left_on(profile)


def _kill_chromium_left_on(profile: Path) -> None:
    """quit() normally ends every Chromium process; any still using this test's own profile
    folder (so started by this test) is killed by pid."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if f"--user-data-dir={profile}".encode() in cmdline:
            try:
                os.kill(int(proc.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


@contextmanager
def step(driver, name: str):
    """`name`.png after the step; on failure FAILED_`name`.png and .html (the page source)
    instead, then the error goes on. Each step replaces only its own files (pytest-xdist
    workers may run the steps side by side)."""
    passed, failed = ARTIFACTS / f"{name}.png", [ARTIFACTS / f"FAILED_{name}.png", ARTIFACTS / f"FAILED_{name}.html"]
    try:
        yield
    except BaseException:
        passed.unlink(missing_ok=True)
        try:
            driver.save_screenshot(str(failed[0]))
            failed[1].write_text(driver.page_source)
        except Exception as error:  # a dead browser must not hide the step's own error
            failed[1].write_text(f"could not save the page: {error!r}")
        raise
    for path in failed:
        path.unlink(missing_ok=True)
    driver.save_screenshot(str(passed))


@contextmanager
def timed_page(ui: Ui, driver, name: str, url: str):
    """Step `name`: navigate to `url`; the body waits until the page has rendered. The time
    from navigation to rendered goes into ui.timings (printed, and kept in timings.json)."""
    with step(driver, name):
        started = time.monotonic()
        driver.get(url)
        yield
        ui.timings[name] = round(time.monotonic() - started, 2)
        print(f"{name}: rendered {ui.timings[name]:.2f} s after navigation")


def visible(driver, xpath: str, timeout: float = UI_TIMEOUT_S):
    """The first element matching `xpath` once it is displayed (the UI renders after its
    GraphQL queries return)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(
        expected_conditions.visibility_of_element_located((By.XPATH, xpath)),
        message=f"not visible within {timeout} s: {xpath}",
    )


def clickable(driver, xpath: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, UI_TIMEOUT_S).until(
        expected_conditions.element_to_be_clickable((By.XPATH, xpath)),
        message=f"not clickable within {UI_TIMEOUT_S} s: {xpath}",
    )


def wait_until(driver, condition, message: str, timeout: float = UI_TIMEOUT_S):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # Stale elements: React may re-render an element between finding and reading it.
    wait = WebDriverWait(driver, timeout, poll_frequency=0.25, ignored_exceptions=(StaleElementReferenceException,))
    return wait.until(lambda _: condition(), message=message)


def text_is(text: str) -> str:
    return f"normalize-space()='{text}'"


# --- GraphQL confirmations -----------------------------------------------------------------------
def minute_checks(server: Webserver) -> dict[str, list[str]]:
    """Each minute asset's asset checks, from the code location."""
    nodes = server.graphql("""{ assetNodes { assetKey { path } groupName
        assetChecksOrError { ... on AssetChecks { checks { name } } } } }""")["assetNodes"]
    return {n["assetKey"]["path"][0]: sorted(c["name"] for c in n["assetChecksOrError"]["checks"])
            for n in nodes if n["groupName"] == "minute_pipeline"}


def materialized_keys(server: Webserver, asset: str, keys: list[str]) -> set[str]:
    data = server.graphql("""query($asset: [String!]!, $keys: [String!]) { assetNodeOrError(assetKey: {path: $asset}) {
        ... on AssetNode { assetMaterializations(partitions: $keys) { partition } } } }""", {"asset": [asset], "keys": keys})
    return {m["partition"] for m in data["assetNodeOrError"]["assetMaterializations"]}


def check_results(server: Webserver, keys: list[str]) -> dict[tuple[str, str, str], tuple]:
    """(asset, check, key) -> (status, success, evaluated partition) of the latest execution of
    every minute asset's checks for each of `keys`."""
    fields, plan = [], {}
    for asset, checks in minute_checks(server).items():
        for check in checks:
            for key in keys:
                alias = f"c{len(plan)}"
                plan[alias] = (asset, check, key)
                fields.append(f'{alias}: assetCheckExecutions(assetKey: {{path: ["{asset}"]}}, checkName: "{check}", '
                              f'partition: "{key}", limit: 1) {{ status evaluation {{ success partition }} }}')
    data = server.graphql("{ " + "\n".join(fields) + " }")
    return {plan[alias]: tuple((e["status"], e["evaluation"]["success"], e["evaluation"]["partition"]) for e in found)
            for alias, found in data.items()}


def assert_checks_passed(server: Webserver, keys: list[str]) -> None:
    results = check_results(server, keys)
    assert results, "no asset checks on the minute assets"
    wrong = {where: got for where, got in results.items() if got != (("SUCCEEDED", True, where[2]),)}
    assert not wrong, f"checks not SUCCEEDED on their own partition: {dict(list(wrong.items())[:6])}"


def runs_tagged(server: Webserver, key: str, value: str) -> list[dict]:
    data = server.graphql("""query($key: String!, $value: String!) {
        runsOrError(filter: {tags: [{key: $key, value: $value}]}) {
            ... on Runs { results { runId status tags { key value } } } } }""", {"key": key, "value": value})
    return data["runsOrError"]["results"]


def wait_for_runs(driver, server: Webserver, key: str, value: str, count: int) -> list[dict]:
    """The runs tagged key=value once `count` of them exist and all have finished; fails at
    once if one failed."""
    found: list[dict] = []

    def finished() -> bool:
        found[:] = runs_tagged(server, key, value)
        failed = [r["runId"] for r in found if r["status"] in ("FAILURE", "CANCELED")]
        assert not failed, f"run(s) {failed} ({key}={value}) did not succeed"
        return len(found) >= count and all(r["status"] == "SUCCESS" for r in found)

    wait_until(driver, finished, f"{count} run(s) tagged {key}={value} not all SUCCESS within {RUN_TIMEOUT_S} s",
               timeout=RUN_TIMEOUT_S)
    return found


# --- a. the asset graph ------------------------------------------------------------------------
def graph_node(asset: str) -> str:
    """An asset's node in the lineage graph (an HTML box inside the graph's SVG)."""
    return f"//*[local-name()='foreignObject'][.//div[@data-tooltip='{asset}']]"


def node_row(asset: str, label: str) -> str:
    """A status row of an asset's node ("Partitions", "Asset checks"): its value."""
    return f"{graph_node(asset)}//span[{text_is(label)}]/following-sibling::*"


def assert_graph_shows_statuses(ui: Ui, browser, name: str) -> None:
    checks = minute_checks(ui.server)
    assert set(checks) == set(MINUTE_ASSETS), checks
    with timed_page(ui, browser, name, f"{ui.server.url}/locations/vol_pipeline/asset-groups/minute_pipeline"):
        for asset in MINUTE_ASSETS:
            visible(browser, f"{graph_node(asset)}//div[@data-tooltip='{asset}']")
            visible(browser, f"{graph_node(asset)}//a[{text_is(f'{ui.data.registered:,} partitions')}]")
            # Statuses arrive after the layout: partitions filled, then every check passed.
            visible(browser, f"{node_row(asset, 'Partitions')}[contains(normalize-space(), '% filled')]")
            if checks[asset]:
                passed = f"{len(checks[asset])} / {len(checks[asset])} Passed"
                visible(browser, f"{node_row(asset, 'Asset checks')}[.//span[{text_is(passed)}]]")


def test_asset_graph_shows_every_minute_asset_with_its_status(ui, browser):
    assert_graph_shows_statuses(ui, browser, "01_asset_graph")

    nodes = ui.server.graphql("{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }")["assetNodes"]
    graph = {n["assetKey"]["path"][0]: n for n in nodes}
    assert all(graph[asset]["groupName"] == "minute_pipeline" for asset in MINUTE_ASSETS)
    for upstream, asset in zip(CHAIN, CHAIN[1:]):
        assert upstream in [d["path"][0] for d in graph[asset]["dependencyKeys"]]
    assert {d["path"][0] for d in graph["signals"]["dependencyKeys"]} == {"lane_features"}  # no news source here


# --- b. Partitions pages and Checks tabs ---------------------------------------------------------
def assert_partitions_page(ui: Ui, browser, name: str, asset: str) -> None:
    registered, done = ui.data.registered, ui.materialized
    with timed_page(ui, browser, name, f"{ui.server.url}/assets/{asset}?view=partitions"):
        visible(browser, f"//*[{text_is(f'{registered:,} Partitions Selected')}]")
        visible(browser, f"//*[{text_is(f'Materialized ({done})')}]")
        visible(browser, f"//*[{text_is(f'Missing ({registered - done})')}]")
        # The list of keys, oldest first, each with its status dot.
        first = f"{ui.data.partition_start.isoformat()}-09:30"
        visible(browser, f"//div[@data-tooltip='{first}']/following-sibling::div[contains(@style, 'border-radius')]")


def assert_checks_tab(ui: Ui, browser, name: str, asset: str, checks: list[str]) -> None:
    with timed_page(ui, browser, name, f"{ui.server.url}/assets/{asset}?view=checks"):
        for check in checks:  # the list of the asset's checks, each with its latest status
            visible(browser, f"//div[@title='{check}']/following-sibling::span[{text_is('Succeeded')}]")
        # The selected check's latest execution: passed, on a partition.
        visible(browser, "//span[@data-tooltip='Passed']")
        visible(browser, f"//span[{text_is('Partition')}]/following-sibling::div[string-length(normalize-space()) = 16]")


def test_partitions_pages_and_checks_tabs_render(ui, browser):
    checks = minute_checks(ui.server)
    assert_partitions_page(ui, browser, "02_recommendations_partitions", "recommendations")
    assert_checks_tab(ui, browser, "03_recommendations_checks", "recommendations", checks["recommendations"])
    assert_partitions_page(ui, browser, "04_lane_features_partitions", "lane_features")
    assert_checks_tab(ui, browser, "05_lane_features_checks", "lane_features", checks["lane_features"])
    busy = busy_until_idle(ui.webserver_pid, timeout=IDLE_TIMEOUT_S)
    ui.timings["webserver_busy_after_last_page"] = busy.seconds
    print(f"webserver busy {busy.seconds} s ({busy.cpu_s} CPU-s) after the last page; samples {busy.samples}")
    assert busy.seconds != float("inf"), f"the webserver never settled within {IDLE_TIMEOUT_S} s: {busy.samples}"

    # The same numbers through GraphQL: every key registered, and what the pages counted.
    data = ui.server.graphql("""{ assetNodeOrError(assetKey: {path: ["recommendations"]}) { ... on AssetNode {
        partitionKeysByDimension { partitionKeys }
        assetPartitionStatuses { ... on DefaultPartitionStatuses { materializedPartitions } } } } }""")["assetNodeOrError"]
    assert len(data["partitionKeysByDimension"][0]["partitionKeys"]) == ui.data.registered
    materialized = set(data["assetPartitionStatuses"]["materializedPartitions"])
    assert set(ui.data.sensor_keys) <= materialized
    assert sum(key.startswith(ui.data.demo_session.isoformat()) for key in materialized) == ui.data.demo_minutes
    assert len(materialized) == ui.materialized


# --- c. Materialize from the dialog --------------------------------------------------------------
DIALOG = "//*[@role='dialog'][.//*[starts-with(normalize-space(), 'Launch runs to materialize')]]"


def open_materialize_dialog(ui: Ui, driver, query: str):
    """The minute_pipeline group's "Materialize all" dialog, its partition list filtered by
    `query`. Returns the filter input."""
    from selenium.webdriver.common.by import By

    driver.get(f"{ui.server.url}/locations/vol_pipeline/asset-groups/minute_pipeline")
    visible(driver, f"{node_row('recommendations', 'Partitions')}[contains(normalize-space(), '% filled')]")
    clickable(driver, "//button[contains(normalize-space(), 'Materialize all')]").click()
    visible(driver, f"{DIALOG}//*[{text_is(f'Launch runs to materialize {len(MINUTE_ASSETS)} assets')}]")
    # Dynamic partitions: a list of keys with a filter ("Custom" selection).
    clickable(driver, f"{DIALOG}//div[{text_is('Select a partition or create one')}]").click()
    box = visible(driver, "//input[@placeholder='Filter partitions']")
    box.send_keys(query)
    assert driver.find_element(By.XPATH, "//input[@placeholder='Filter partitions']").get_attribute("value") == query
    return box


def close_partition_list(driver, box) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box.send_keys(Keys.ESCAPE)  # closes the list, not the dialog
    wait_until(driver, lambda: not [e for e in driver.find_elements(By.XPATH, "//input[@placeholder='Filter partitions']")
                                    if e.is_displayed()], "the partition list did not close")


def assert_checks_partitions_view(ui: Ui, driver, name: str, check: str, query: str, count: int) -> None:
    """recommendations -> Checks -> `check` -> Partitions, filtered by `query`: `count` keys, all Passed."""
    with step(driver, name):
        driver.get(f"{ui.server.url}/assets/recommendations?view=checks&checkDetail={check}")
        clickable(driver, "//button[@role='tab'][@id='partitions']").click()
        visible(driver, "//input[starts-with(@placeholder, 'Filter by partition')]").send_keys(query)
        visible(driver, f"//*[{text_is(f'{count} Partitions Selected')}]")
        visible(driver, f"//*[{text_is(f'Passed ({count})')}]")
        for status in ("Execution Failed", "Failed", "In Progress", "Missing", "Skipped"):
            visible(driver, f"//*[{text_is(f'{status} (0)')}]")


def assert_green_in_partitions_list(ui: Ui, driver, query: str, keys: list[str]) -> None:
    """recommendations -> Partitions, the list filtered by `query`: the shown keys have green dots."""
    driver.get(f"{ui.server.url}/assets/recommendations?view=partitions")
    visible(driver, f"//*[{text_is(f'Materialized ({ui.materialized})')}]")
    visible(driver, "//input[starts-with(@placeholder, 'Filter by name')]").send_keys(query)
    # The list is virtualized: the first rows are rendered.
    for key in keys[:5]:
        visible(driver, f"//div[@data-tooltip='{key}']/following-sibling::div[contains(@style, 'accent-green')]")


def test_materialize_one_minute_from_the_dialog(ui, browser):
    from selenium.webdriver.common.by import By

    key = ui.data.one_minute
    assert not materialized_keys(ui.server, "recommendations", [key])  # registered, never materialized
    with step(browser, "06_dialog_one_minute"):
        box = open_materialize_dialog(ui, browser, key)
        clickable(browser, f"//label[.//div[@data-tooltip='{key}']]").click()
        close_partition_list(browser, box)
        visible(browser, f"{DIALOG}//*[{text_is('1 partition')}]")
    with step(browser, "07_launched_one_minute"):
        clickable(browser, f"{DIALOG}//button[{text_is('Launch 1 run')}]").click()
        wait_until(browser, lambda: not browser.find_elements(By.XPATH, DIALOG), "the dialog did not close after launching")
        [run] = wait_for_runs(browser, ui.server, "dagster/partition", key, 1)
        ui.launched.add(key)
        show_run_succeeded(browser, ui.server, run["runId"])
    with step(browser, "08_one_minute_materialized"):
        browser.get(f"{ui.server.url}/assets/recommendations?view=partitions&partition={quote(key)}")
        visible(browser, f"//span[div[@title='{key}']]/following-sibling::div[{text_is('Materialized')}]")
    for number, check in enumerate(CHECKS, start=9):
        assert_checks_partitions_view(ui, browser, f"{number:02d}_one_minute_check_{check}", check, key, 1)

    for asset in MINUTE_ASSETS:
        assert materialized_keys(ui.server, asset, [key]) == {key}, asset
    assert_checks_passed(ui.server, [key])


def test_backfill_thirty_minutes_from_the_dialog(ui, browser):
    from selenium.webdriver.common.by import By

    keys, query = list(ui.data.backfill_keys), ui.data.backfill_filter
    assert len(keys) == BACKFILL_MINUTES and not materialized_keys(ui.server, "recommendations", keys)
    before = {b["id"] for b in backfills(ui.server)}
    with step(browser, "11_dialog_thirty_minutes"):
        box = open_materialize_dialog(ui, browser, query)
        # The filter matches exactly the session's 09:30-09:59; "Select all" takes what it matches.
        for key in keys[:3]:
            visible(browser, f"//label[.//div[@data-tooltip='{key}']]")
        clickable(browser, f"//label[.//span[{text_is(f'Select all ({BACKFILL_MINUTES})')}]]").click()
        close_partition_list(browser, box)
        visible(browser, f"{DIALOG}//*[{text_is(f'{BACKFILL_MINUTES} partitions')}]")
    with step(browser, "12_launched_backfill"):
        clickable(browser, f"{DIALOG}//button[{text_is('Launch backfill')}]").click()
        wait_until(browser, lambda: not browser.find_elements(By.XPATH, DIALOG), "the dialog did not close after launching")
        new = wait_until(browser, lambda: [b for b in backfills(ui.server) if b["id"] not in before],
                         "no backfill was created")
        [backfill] = new
        assert sorted(backfill["partitionNames"]) == keys
        # BackfillPolicy.single_run: one run for the whole range.
        [run] = wait_for_runs(browser, ui.server, "dagster/backfill", backfill["id"], 1)
        tags = {t["key"]: t["value"] for t in run["tags"]}
        assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (keys[0], keys[-1])
        ui.launched.update(keys)
        show_run_succeeded(browser, ui.server, run["runId"])
    with step(browser, "13_thirty_minutes_green"):
        assert_green_in_partitions_list(ui, browser, query, keys)
    for number, check in enumerate(CHECKS, start=14):
        assert_checks_partitions_view(ui, browser, f"{number:02d}_thirty_minutes_check_{check}", check, query, BACKFILL_MINUTES)

    for asset in MINUTE_ASSETS:
        assert materialized_keys(ui.server, asset, keys) == set(keys), asset
    assert_checks_passed(ui.server, keys)


def show_run_succeeded(driver, server: Webserver, run_id: str) -> None:
    """The run's page: status Success, and its log down to RUN_SUCCESS."""
    driver.get(f"{server.url}/runs/{run_id}")
    visible(driver, f"//*[{text_is('Success')}]")
    visible(driver, f"//*[{text_is('RUN_SUCCESS')}]")


def backfills(server: Webserver) -> list[dict]:
    data = server.graphql("{ partitionBackfillsOrError(limit: 20) { ... on PartitionBackfills { results { id status partitionNames } } } }")
    return data["partitionBackfillsOrError"]["results"]


def test_asset_graph_after_the_flows(ui, browser):
    assert_graph_shows_statuses(ui, browser, "16_asset_graph_after_flows")


# --- d. the sensor's and the schedule's switches ---------------------------------------------------
SWITCH = "//td[normalize-space()='Running']/following-sibling::td//label[input[@type='checkbox']]"
CONFIRM = ("//*[@role='dialog' or @role='alertdialog']//button"
           "[normalize-space()='Confirm' or normalize-space()='Start' or normalize-space()='Stop']")


def switch_is_on(driver) -> bool:
    from selenium.webdriver.common.by import By

    # The checkbox itself is drawn invisible under the switch's SVG; its state is the switch's.
    return visible(driver, SWITCH).find_element(By.TAG_NAME, "input").is_selected()


def flip_switch(driver, server: Webserver, kind: str, name: str, on: bool) -> None:
    """Click the switch and answer a confirmation dialog if the UI asks for one; then wait
    until the instance has stored the new state."""
    from selenium.webdriver.common.by import By

    visible(driver, SWITCH).click()
    wanted = "RUNNING" if on else "STOPPED"

    def settled() -> bool:
        for button in driver.find_elements(By.XPATH, CONFIRM):
            if button.is_displayed():
                button.click()
        return instigator_state(server.graphql, kind, name)["status"] == wanted

    wait_until(driver, settled, f"{name} not {wanted} after clicking its switch")


@pytest.mark.parametrize(("kind", "name", "first"), [("schedule", SCHEDULE, 17), ("sensor", SENSOR, 20)])
def test_automation_toggles_from_its_page(ui, browser, kind, name, first):
    page = f"{ui.server.url}/locations/vol_pipeline/{kind}s/{name}"
    with step(browser, f"{first:02d}_{name}_before"):
        browser.get(page)
        before = switch_is_on(browser)
    # Stopped by default locally (VOL_PIPELINE_ENV=local): the page and the instance agree.
    assert (before, instigator_state(ui.server.graphql, kind, name)["status"]) == (False, "STOPPED")

    for number, on, status in ((first + 1, True, "RUNNING"), (first + 2, False, "STOPPED")):
        with step(browser, f"{number:02d}_{name}_{status.lower()}"):
            flip_switch(browser, ui.server, kind, name, on)
            browser.refresh()  # what the page shows after a reload is the stored state
            wait_until(browser, lambda: switch_is_on(browser) == on, f"the page does not show {name} {status}")
        assert instigator_state(ui.server.graphql, kind, name)["status"] == status
