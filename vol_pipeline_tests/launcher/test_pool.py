"""The spare pool's protocol with stand-in spare processes (a few lines of Python that answer
the way vol_pipeline.launcher.spare does): hand-over to a ready spare, no spare ready, a spare
that declines, one that died, and the replacement after a run's process exits."""

from __future__ import annotations

import sys
import time

from vol_pipeline.launcher.pool import SparePool

# argv[1]: what the stand-in answers to a run id ("started", "stale", "die"); argv[2]: seconds it "runs"
STAND_IN = """
import os, sys, time
print("ready 0.01", flush=True)
run_id = sys.stdin.readline().strip()
if sys.argv[1] == "die":
    sys.exit(3)
if sys.argv[1] == "stale":
    print("stale 1 source file(s) changed since loading, e.g. x.py", flush=True)
    sys.exit(0)
print(f"started {os.getpid()}", flush=True)
time.sleep(float(sys.argv[2]))
sys.exit(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
"""


def stand_in(answer: str, seconds: float = 0.0, code: int = 0) -> list[str]:
    return [sys.executable, "-c", STAND_IN, answer, str(seconds), str(code)]


def wait_until(condition, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    raise AssertionError("timed out")


def ready(pool: SparePool, key: str) -> bool:
    return any(s.key == key and s.poll_ready() for s in pool.idle)


def test_the_first_run_finds_none_ready_and_the_next_gets_the_loaded_one():
    pool, argv = SparePool(size=1), stand_in("started", 3.0, 0)  # the run lasts long enough to be seen running
    assert pool.hand_over("run-1", "code-a", argv, None) == (None, "no loaded process ready yet")
    wait_until(lambda: ready(pool, "code-a"))
    pid, why_not = pool.hand_over("run-2", "code-a", argv, None)
    assert pid and why_not == ""
    assert pool.running["run-2"].pid == pid
    # Once the run's process exits, its exit code is kept and a replacement is loading.
    wait_until(lambda: "run-2" in pool.exit_codes)
    assert pool.exit_codes["run-2"] == 0 and "run-2" not in pool.running
    wait_until(lambda: ready(pool, "code-a"))
    pool.stop_idle()


def test_a_declining_spare_sends_the_run_the_cold_way_and_is_replaced():
    pool = SparePool(size=1)
    pool.fill("code-a", stand_in("stale"), None)
    wait_until(lambda: ready(pool, "code-a"))
    declined = pool.idle[0].process
    pid, why_not = pool.hand_over("run-1", "code-a", stand_in("started"), None)
    assert pid is None and why_not.startswith("stale 1 source file(s) changed")
    assert declined.poll() is not None  # it exited
    assert [s.process.pid for s in pool.idle] != [declined.pid] and len(pool.idle) == 1  # a new one is loading
    wait_until(lambda: ready(pool, "code-a"))
    assert pool.hand_over("run-2", "code-a", stand_in("started"), None)[0]  # and takes the next run
    pool.stop_idle()


def test_a_spare_that_dies_on_hand_over_loses_no_run():
    pool = SparePool(size=1)
    pool.fill("code-a", stand_in("die"), None)
    wait_until(lambda: ready(pool, "code-a"))
    pid, why_not = pool.hand_over("run-1", "code-a", stand_in("started"), None)
    assert pid is None and why_not == "the loaded process did not answer"
    pool.stop_idle()


def test_spares_of_another_code_origin_are_dropped():
    pool = SparePool(size=1)
    pool.fill("code-a", stand_in("started"), None)
    wait_until(lambda: ready(pool, "code-a"))
    old = pool.idle[0].process
    assert pool.hand_over("run-1", "code-b", stand_in("started"), None)[0] is None
    assert old.poll() is not None  # stopped
    assert [s.key for s in pool.idle] == ["code-b"]
    pool.stop_idle()


def test_a_failed_run_process_reports_its_exit_code():
    pool = SparePool(size=1)
    pool.fill("code-a", stand_in("started", 0.1, 9), None)
    wait_until(lambda: ready(pool, "code-a"))
    assert pool.hand_over("run-1", "code-a", stand_in("started"), None)[0]
    wait_until(lambda: "run-1" in pool.exit_codes)
    assert pool.exit_codes["run-1"] == 9
    pool.stop_idle()

