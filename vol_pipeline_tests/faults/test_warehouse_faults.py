"""Faults under the warehouses: the network to PostgreSQL fails, the writing process dies.

What must hold: a window replace is all or nothing. After any fault the window holds its
previous complete contents or the new ones, never half, a mix or a subset; a write that
lost its connection is retried as a whole with backoff and then lands completely; a
server that is gone for good gives WarehouseUnavailableError naming the redacted location
after a bounded wait.

Everything is real: the PostgreSQL server of the suite, a loopback TCP proxy (proxy.py)
between the warehouse and it, DuckDB files, and writer processes killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import psycopg2
import pytest

from vol_pipeline.storage import postgres_warehouse as pw
from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse
from vol_pipeline.storage.postgres_url import redacted
from vol_pipeline.storage.postgres_warehouse import PostgresWarehouse, WarehouseUnavailableError
from vol_pipeline_tests.faults.helpers import (
    MINUTE, T0, lane_feature_rows, password_of, target, which_version, with_netloc,
)
from vol_pipeline_tests.faults.proxy import CutRule, FaultProxy

TABLE = "lane_features"
BACKOFF = [0.5 * 2**k for k in range(pw.CONNECT_ATTEMPTS - 1)]  # 0.5, 1, 2 s
ROOT = Path(__file__).resolve().parents[2]  # the repository: the workers import vol_pipeline_tests
WRITER_APP = "vp_fault_writer"  # application_name of the killed writer's PostgreSQL session


# --- fixtures -------------------------------------------------------------------------------------
@pytest.fixture
def proxy(emptied_postgres_url):
    with FaultProxy(*target(emptied_postgres_url)) as running:
        yield running


@pytest.fixture
def via_proxy(emptied_postgres_url, proxy) -> PostgresWarehouse:
    """The warehouse as production opens it, but through the proxy, with a password in its URL."""
    return PostgresWarehouse(with_netloc(emptied_postgres_url, proxy.port))


# --- 1. the network to PostgreSQL fails ---------------------------------------------------------------
# 20k rows (~3 MB of binary COPY): big enough to cut in the middle of the stream.
SMALL_OLD, SMALL_NEW = lane_feature_rows(200, 95, version=1), lane_feature_rows(200, 100, version=2)
SMALL_WINDOW = (T0, T0 + 100 * MINUTE)
SMALL = {"old": SMALL_OLD, "new": SMALL_NEW}


def stored(url: str, window=SMALL_WINDOW, versions=SMALL) -> str | None:
    """Which version the window holds, read directly (not through the proxy)."""
    return which_version(PostgresWarehouse(url).read(TABLE, *window), versions)


def test_a_server_refusing_connections_for_1_5_s_is_waited_for_with_backoff(emptied_postgres_url, proxy, via_proxy):
    PostgresWarehouse(emptied_postgres_url).replace(TABLE, SMALL_OLD, *SMALL_WINDOW)
    proxy.refuse_new = True  # the outage: every connection is closed as soon as it opens
    threading.Timer(1.5, lambda: setattr(proxy, "refuse_new", False)).start()

    began = time.monotonic()
    via_proxy.replace(TABLE, SMALL_NEW, *SMALL_WINDOW)
    elapsed = time.monotonic() - began

    assert stored(emptied_postgres_url) == "new"
    assert proxy.log.refused >= 2, "the write never met the outage"
    # the refused attempts and the first one let through (ADBC then opens a second connection
    # for the session itself, right after its first one: not a retry)
    attempts = [t - began for t in proxy.log.attempts[:proxy.log.refused + 1]]
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    # each wait is its backoff step (0.5 s, then 1 s, ...; seen at the proxy, so give or take
    # a little scheduling) and the write came through within the attempt budget
    assert all(gap >= step - 0.15 for gap, step in zip(gaps, BACKOFF)), gaps
    assert 1.5 <= elapsed < sum(BACKOFF) + 5, elapsed


CUT_POINTS = {
    # where the connection drops          rule                                              committed?
    "mid-COPY (1 MB sent)": (CutRule(after_bytes=1_000_000), False),
    "before the INSERT": (CutRule(marker=b"INSERT INTO lane_features"), False),
    "before the COMMIT": (CutRule(marker=b"COMMIT"), False),
    "after the COMMIT was sent": (CutRule(marker=b"COMMIT", after_marker=True), True),
}


@pytest.mark.parametrize("point", CUT_POINTS)
def test_a_connection_cut_mid_write_never_leaves_half_a_window_and_the_retry_lands_it(
        emptied_postgres_url, proxy, via_proxy, monkeypatch, point):
    rule, committed = CUT_POINTS[point]
    PostgresWarehouse(emptied_postgres_url).replace(TABLE, SMALL_OLD, *SMALL_WINDOW)

    # Every attempt cut at that point: the write fails and the window is untouched (or, cut
    # after the server got COMMIT, completely new). Backoff sleeps recorded, not slept.
    sleeps: list[float] = []
    monkeypatch.setattr(pw, "time", SimpleNamespace(sleep=sleeps.append))
    proxy.cut(CutRule(**{**rule.__dict__, "times": None}))
    with pytest.raises(WarehouseUnavailableError, match=f"unreachable after {pw.CONNECT_ATTEMPTS} attempts"):
        via_proxy.replace(TABLE, SMALL_NEW, *SMALL_WINDOW)
    assert len(proxy.log.cuts) == pw.CONNECT_ATTEMPTS and sleeps == BACKOFF
    assert stored(emptied_postgres_url) == ("new" if committed else "old")

    # Only the first attempt cut: the retry (real backoff) writes the whole window.
    PostgresWarehouse(emptied_postgres_url).replace(TABLE, SMALL_OLD, *SMALL_WINDOW)
    monkeypatch.undo()
    proxy.log.cuts.clear()
    proxy.cut(CutRule(**{**rule.__dict__, "times": 1}))
    began = time.monotonic()
    via_proxy.replace(TABLE, SMALL_NEW, *SMALL_WINDOW)
    assert proxy.log.cuts and len(proxy.log.cuts) == 1
    assert time.monotonic() - began >= BACKOFF[0]
    assert stored(emptied_postgres_url) == "new"


def test_a_statement_error_is_not_retried(emptied_postgres_url, proxy):
    """Only lost connections are retried: a write the server refuses (here: a read-only
    session, SQLSTATE 25006) fails at once, on its first connection, leaving the old rows.
    (A tiny statement_timeout was flaky for this: on a slow machine it also cancels the
    driver's own queries while connecting.)"""
    PostgresWarehouse(emptied_postgres_url).replace(TABLE, SMALL_OLD, *SMALL_WINDOW)
    read_only = "?options=-c%20default_transaction_read_only%3Don"
    refused = PostgresWarehouse(with_netloc(emptied_postgres_url, proxy.port) + read_only)
    with pytest.raises(Exception, match="read-only transaction") as caught:
        refused.replace(TABLE, SMALL_NEW, *SMALL_WINDOW)
    assert not isinstance(caught.value, WarehouseUnavailableError)
    assert len(proxy.log.attempts) == 2  # one connect (ADBC opens two sockets for it), no retry
    assert stored(emptied_postgres_url) == "old"


def test_a_server_gone_for_good_fails_clearly_after_bounded_backoff(emptied_postgres_url, proxy, via_proxy):
    PostgresWarehouse(emptied_postgres_url).replace(TABLE, SMALL_OLD, *SMALL_WINDOW)
    proxy.down()  # nothing listens any more

    began = time.monotonic()
    with pytest.raises(WarehouseUnavailableError) as caught:
        via_proxy.replace(TABLE, SMALL_NEW, *SMALL_WINDOW)
    elapsed = time.monotonic() - began

    url = with_netloc(emptied_postgres_url, proxy.port)
    location = redacted(url)  # postgresql://127.0.0.1:<port>/<db>
    message = str(caught.value)
    assert message.startswith(f"warehouse {location} unreachable after {pw.CONNECT_ATTEMPTS} attempts: ")
    for text in (message, "".join(traceback.format_exception(caught.value))):
        assert password_of(url) not in text and f"{urlsplit(url).username}:" not in text
    assert sum(BACKOFF) <= elapsed < sum(BACKOFF) + 3, elapsed  # 3.5 s of backoff, then it gives up
    assert stored(emptied_postgres_url) == "old"


# --- 2. the writing process is killed ------------------------------------------------------------------
# ~200k rows: the old version has fewer rows, so a subset of either is visible too.
BIG_OLD, BIG_NEW = lane_feature_rows(500, 380, version=1), lane_feature_rows(500, 400, version=2)
BIG_WINDOW = (T0, T0 + 400 * MINUTE)
BIG = {"old": BIG_OLD, "new": BIG_NEW}


def start_writer(warehouse: str, frame_path) -> subprocess.Popen:
    """A writer process, started ahead of time (loading takes ~1 s; they load in parallel)."""
    argv = [sys.executable, "-m", "vol_pipeline_tests.faults.workers", "write", warehouse, TABLE, str(frame_path),
            BIG_WINDOW[0].isoformat(), BIG_WINDOW[1].isoformat()]
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def ready(writers: list[subprocess.Popen]) -> list[subprocess.Popen]:
    """Wait until every writer has loaded (so none competes for the CPU with a timed write)."""
    for process in writers:
        assert process.stdout.readline().strip() == "ready", "the writer did not load"
    return writers


def go(process: subprocess.Popen) -> subprocess.Popen:
    """Let a ready writer start its replace; returns once it says `writing`."""
    process.stdin.write("go\n")
    process.stdin.flush()
    assert process.stdout.readline().strip() == "writing"
    return process


def kill(process: subprocess.Popen) -> bool:
    """SIGKILL; True if the write was still running (it never printed `done`)."""
    process.send_signal(signal.SIGKILL)
    out, _ = process.communicate(timeout=30)
    return "done" not in out


def finish(process: subprocess.Popen) -> float:
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    return float(out.split()[-1])


def test_a_duckdb_writer_killed_mid_replace_leaves_the_old_or_the_new_window(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    frame_path = tmp_path / "new.parquet"
    BIG_NEW.write_parquet(frame_path)
    fractions = (0.0, 0.3, 0.5, 0.65, 0.8, 0.95)  # kill moments across the replace
    writers = [start_writer(str(path), frame_path) for _ in range(len(fractions) + 1)]
    store = DuckDBWarehouse(path)
    store.replace(TABLE, BIG_OLD, *BIG_WINDOW)
    ready(writers)
    write_s = finish(go(writers.pop()))  # how long one replace takes here
    assert which_version(store.read(TABLE, *BIG_WINDOW), BIG) == "new"

    outcomes = []
    store.replace(TABLE, BIG_OLD, *BIG_WINDOW)
    for fraction, writer in zip(fractions, writers):
        go(writer)
        time.sleep(fraction * write_s)
        interrupted = kill(writer)
        reopened = DuckDBWarehouse(path, lock_retry_seconds=5)  # a new connection replays the WAL
        found = which_version(reopened.read(TABLE, *BIG_WINDOW), BIG)
        outcomes.append((fraction, interrupted, found))
        print(f"killed at {fraction:.0%} of {write_s:.2f} s: interrupted={interrupted} window={found}")
        assert found in ("old", "new"), f"killed at {fraction:.0%} of the write: neither version: {outcomes}"
        if found == "new":
            store.replace(TABLE, BIG_OLD, *BIG_WINDOW)
    assert outcomes[0][1:] == (True, "old"), f"the kill right after `writing` must interrupt the write: {outcomes}"
    # the file is still a working warehouse: written and read again
    store.replace(TABLE, BIG_NEW, *BIG_WINDOW)
    assert which_version(store.read(TABLE, *BIG_WINDOW), BIG) == "new"
    assert store.read(TABLE).height == BIG_NEW.height


def backend_query(monitor) -> str | None:
    """The statement the writer's server session is running, or None when it has no session."""
    with monitor.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE application_name = %s", (WRITER_APP,))
        row = cursor.fetchone()
    return None if row is None else row[0]


def wait_for(predicate, timeout: float = 30.0, every: float = 0.003) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def test_a_postgres_writer_killed_mid_replace_leaves_the_old_or_the_new_window(emptied_postgres_url, postgres_admin_url, tmp_path):
    frame_path = tmp_path / "new.parquet"
    BIG_NEW.write_parquet(frame_path)
    writer_url = f"{emptied_postgres_url}?application_name={WRITER_APP}"
    # Kill points by what the server is executing for the writer (pg_stat_activity), then a delay:
    # the staging COPY, the DELETE of the old rows, the INSERT of the new ones, the COMMIT.
    plan = [(None, 0.0), ("COPY", 0.05), ("DELETE", 0.0), ("INSERT", 0.1), ("COMMIT", 0.0)]
    writers = [start_writer(writer_url, frame_path) for _ in plan]
    direct = PostgresWarehouse(emptied_postgres_url)
    direct.replace(TABLE, BIG_OLD, *BIG_WINDOW)
    outcomes = []
    monitor = psycopg2.connect(postgres_admin_url)
    monitor.autocommit = True
    ready(writers)
    for (phase, delay), writer in zip(plan, writers):
        go(writer)
        if phase:
            wait_for(lambda: writer.poll() is not None or (backend_query(monitor) or "").startswith(phase))
        time.sleep(delay)
        interrupted = kill(writer)
        # the server rolls back the dead client's transaction when it notices; wait for that
        assert wait_for(lambda: backend_query(monitor) is None), "the killed writer's session lingers"
        found = which_version(direct.read(TABLE, *BIG_WINDOW), BIG)
        outcomes.append((phase, delay, interrupted, found))
        print(f"killed in {phase or 'connect'} (+{delay} s): interrupted={interrupted} window={found}")
        assert found in ("old", "new"), f"neither version after a kill: {outcomes}"
        if found == "new":
            direct.replace(TABLE, BIG_OLD, *BIG_WINDOW)
    monitor.close()
    # the kills before the COMMIT interrupted the write and left the old rows (the exact
    # split depends on timing; any kill may only ever leave old or new, asserted above)
    assert sum(interrupted and found == "old" for *_, interrupted, found in outcomes) >= 2, outcomes
