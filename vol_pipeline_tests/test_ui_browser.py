"""The Dagster UI in a real browser: headless Chromium (selenium) on the real dagster-webserver,
after one market minute of the chain has been materialized into a fresh instance.

What a person would look at (README "The Dagster UI"): the asset graph of the minute chain,
a recommendations partition with its passed asset checks, and the minute sensor's on/off
switch. Each page is confirmed through GraphQL too. Screenshots of every step (and the page
source on failure) go to $VOL_PIPELINE_TEST_ARTIFACTS/ui (default <repo>/test-artifacts/ui).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from vol_pipeline_tests.webserver import ROOT, Webserver, instigator_state, prepare_home, running_webserver

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
CHAIN = ("bars", "lane_features", "signals", "recommendations")
CHECKS = ("pandera_contract", "confidence_formula")  # vol_pipeline/defs/checks.py
SENSOR = "minute_sensor"  # vol_pipeline/defs/sensors.py
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
class Ui:
    server: Webserver
    partition: str  # the materialized recommendations partition, e.g. 2026-11-23-11:00


def materialize_one_minute(home: Path) -> tuple[str, str]:
    """The hour of synthetic bars before 11:00 of the last closed session (lane_features'
    history), then the whole chain for 11:00 as one run of one partition (what the sensor
    requests). Returns (partition start date, partition key)."""
    from vol_pipeline.core.calendar import market_minutes_back, market_minutes_between, session_open_utc, sessions_between
    from vol_pipeline.definitions import build_definitions
    from vol_pipeline.defs.jobs import MINUTE_JOB
    from vol_pipeline.defs.partitions import partition_key
    from vol_pipeline.runs import QUIET_RUN_CONFIG, cli_instance, contiguous_ranges, failure_message, materialize_ranges
    from vol_pipeline.settings import Settings, market_today

    today = market_today()
    session = sessions_between(today - timedelta(days=10), today - timedelta(days=1))[-1]
    # The partitions start at that session: few keys, so the UI's partition queries stay fast.
    settings = Settings(home=home, partition_start=session)
    defs = build_definitions(settings)
    minute = session_open_utc(session) + timedelta(minutes=90)
    with cli_instance(settings) as instance:  # the instance in home/dagster (prepare_home)
        warm_up = market_minutes_between(market_minutes_back(minute, 60), minute)
        results = materialize_ranges(defs, instance, contiguous_ranges(warm_up, 390), selection=["bars", "bars_quarantine"])
        assert results[-1].success, failure_message(results[-1])
        result = defs.resolve_job_def(MINUTE_JOB).execute_in_process(
            run_config=QUIET_RUN_CONFIG, instance=instance, partition_key=partition_key(minute), raise_on_error=False,
        )
        assert result.success, failure_message(result)
    return session.isoformat(), partition_key(minute)


@pytest.fixture(scope="module")
def ui(tmp_path_factory) -> Iterator[Ui]:
    require_browser()  # before the expensive part: skip (or fail in CI) at once
    home = tmp_path_factory.mktemp("ui_browser")
    prepare_home(home)
    partition_start, key = materialize_one_minute(home)
    with running_webserver(home, {"VOL_PIPELINE_PARTITION_START": partition_start}) as server:
        # The UI's first-visit "Join the Dagster community" dialog (shown on localhost) would
        # cover every page; the instance records it as seen, as the dialog's Skip button does.
        assert server.graphql("mutation { setNuxSeen }")["setNuxSeen"] is True
        yield Ui(server, key)


# --- browser -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = tmp_path_factory.mktemp("chromium_profile")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # Explicit driver and binary: Selenium Manager would otherwise try to download them.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(UI_TIMEOUT_S)
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


def visible(driver, xpath: str):
    """The first element matching `xpath` once it is displayed (the UI renders after its
    GraphQL queries return)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, UI_TIMEOUT_S).until(
        expected_conditions.visibility_of_element_located((By.XPATH, xpath)),
        message=f"not visible within {UI_TIMEOUT_S} s: {xpath}",
    )


def wait_until(driver, condition, message: str, timeout: float = UI_TIMEOUT_S):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # Stale elements: React may re-render an element between finding and reading it.
    wait = WebDriverWait(driver, timeout, poll_frequency=0.25, ignored_exceptions=(StaleElementReferenceException,))
    return wait.until(lambda _: condition(), message=message)


# --- a. the asset graph ------------------------------------------------------------------------
def graph_node(asset: str) -> str:
    """An asset's node in the lineage graph (an HTML box inside the graph's SVG)."""
    return f"//*[local-name()='foreignObject'][.//div[@data-tooltip='{asset}']]"


def test_asset_graph_shows_the_minute_chain(ui, browser):
    with step(browser, "01_asset_graph"):
        browser.get(f"{ui.server.url}/locations/vol_pipeline/asset-groups/minute_pipeline")
        for asset in CHAIN:
            visible(browser, f"{graph_node(asset)}//div[@data-tooltip='{asset}']")
        # Statuses arrive after the layout; then the node counts the partition's passed checks.
        visible(browser, f"{graph_node('recommendations')}//*[contains(normalize-space(), '2 / 2 Passed')]")

    nodes = ui.server.graphql("{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }")["assetNodes"]
    graph = {n["assetKey"]["path"][0]: n for n in nodes}
    assert all(graph[asset]["groupName"] == "minute_pipeline" for asset in CHAIN)
    for upstream, asset in zip(CHAIN, CHAIN[1:]):
        assert [d["path"][0] for d in graph[asset]["dependencyKeys"]] == [upstream]


# --- b. a materialized partition and its checks --------------------------------------------------
def test_recommendations_partition_is_materialized_with_passed_checks(ui, browser):
    key = ui.partition
    with step(browser, "02_recommendations_partition"):
        browser.get(f"{ui.server.url}/assets/recommendations?view=partitions&partition={quote(key)}")
        # The detail panel's heading: the key with its status tag.
        visible(browser, f"//span[div[@title='{key}']]/following-sibling::div[normalize-space()='Materialized']")
        visible(browser, "//*[normalize-space()='Latest materialization']")

    for number, check in enumerate(CHECKS, start=3):
        with step(browser, f"{number:02d}_check_{check}"):
            browser.get(f"{ui.server.url}/assets/recommendations?view=checks&checkDetail={check}")
            for name in CHECKS:  # the list of the asset's checks, each with its latest status
                visible(browser, f"//div[@title='{name}']/following-sibling::span[normalize-space()='Succeeded']")
            # The selected check's latest execution: passed, on the materialized partition.
            visible(browser, f"//div[@aria-label='asset_check']/following-sibling::span[normalize-space()='{check}']")
            visible(browser, "//span[@data-tooltip='Passed']")
            visible(browser, f"//span[normalize-space()='Partition']/following-sibling::div[normalize-space()='{key}']")

    data = ui.server.graphql(
        """query($key: String!) {
            assetNodeOrError(assetKey: {path: ["recommendations"]}) {
                ... on AssetNode { assetMaterializations(partitions: [$key]) { partition } } }
            pandera: assetCheckExecutions(assetKey: {path: ["recommendations"]}, checkName: "pandera_contract",
                                          partition: $key, limit: 5) { status evaluation { success partition } }
            formula: assetCheckExecutions(assetKey: {path: ["recommendations"]}, checkName: "confidence_formula",
                                          partition: $key, limit: 5) { status evaluation { success partition } } }""",
        {"key": key},
    )
    assert [m["partition"] for m in data["assetNodeOrError"]["assetMaterializations"]] == [key]
    for alias in ("pandera", "formula"):
        assert [(e["status"], e["evaluation"]["success"], e["evaluation"]["partition"]) for e in data[alias]] == [
            ("SUCCEEDED", True, key)
        ]


# --- c. the minute sensor's switch ---------------------------------------------------------------
SWITCH = "//td[normalize-space()='Running']/following-sibling::td//label[input[@type='checkbox']]"
CONFIRM = ("//*[@role='dialog' or @role='alertdialog']//button"
           "[normalize-space()='Confirm' or normalize-space()='Start' or normalize-space()='Stop']")


def switch_is_on(driver) -> bool:
    from selenium.webdriver.common.by import By

    # The checkbox itself is drawn invisible under the switch's SVG; its state is the switch's.
    return visible(driver, SWITCH).find_element(By.TAG_NAME, "input").is_selected()


def flip_switch(driver, server: Webserver, on: bool) -> None:
    """Click the switch and answer a confirmation dialog if the UI asks for one; then wait
    until the instance has stored the new state."""
    from selenium.webdriver.common.by import By

    visible(driver, SWITCH).click()
    wanted = "RUNNING" if on else "STOPPED"
    state = lambda: instigator_state(server.graphql, "sensor", SENSOR)["status"]  # noqa: E731

    def settled() -> bool:
        for button in driver.find_elements(By.XPATH, CONFIRM):
            if button.is_displayed():
                button.click()
        return state() == wanted

    wait_until(driver, settled, f"{SENSOR} not {wanted} after clicking its switch")


def test_minute_sensor_toggles_from_its_page(ui, browser):
    page = f"{ui.server.url}/locations/vol_pipeline/sensors/{SENSOR}"
    with step(browser, "05_sensor_before"):
        browser.get(page)
        before = switch_is_on(browser)
    # Stopped by default locally (VOL_PIPELINE_ENV=local): the page and the instance agree.
    assert (before, instigator_state(ui.server.graphql, "sensor", SENSOR)["status"]) == (False, "STOPPED")

    for number, on, status in ((6, True, "RUNNING"), (7, False, "STOPPED")):
        with step(browser, f"{number:02d}_sensor_{status.lower()}"):
            flip_switch(browser, ui.server, on)
            browser.refresh()  # what the page shows after a reload is the stored state
            wait_until(browser, lambda: switch_is_on(browser) == on, f"the page does not show {SENSOR} {status}")
        assert instigator_state(ui.server.graphql, "sensor", SENSOR)["status"] == status
