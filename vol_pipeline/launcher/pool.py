"""Spare run processes kept loaded and idle, per code origin (no Dagster import here).

A spare is started with a command line (`python -m vol_pipeline.launcher.spare ...`), loads
the code, and prints `ready`. `hand_over` gives the next run to a ready spare of the same
origin and returns its pid, or None when none is ready (the caller then starts the run the
cold way, and the pool starts loading one). A replacement spare is started once the handed
run's process has exited, so its imports never compete for the CPU with the run it follows.
A spare not ready within LOAD_TIMEOUT_S (hung while loading) is killed and replaced.
"""

from __future__ import annotations

import select
import subprocess
import threading
import time
from dataclasses import dataclass, field

REPLY_TIMEOUT_S = 10.0  # a ready spare answers a run id within milliseconds
LOAD_TIMEOUT_S = 300.0  # loading takes ~3 s on 2 cores; a spare still loading after this is stuck


@dataclass
class Spare:
    key: str  # the code origin it loaded
    process: subprocess.Popen
    ready: bool = False
    load_seconds: float | None = None
    started: float = field(default_factory=time.monotonic)

    def poll_ready(self) -> bool:
        """True once the spare has said `ready`; never blocks."""
        if self.ready:
            return True
        if self.process.poll() is not None:
            return False
        if select.select([self.process.stdout], [], [], 0)[0]:
            line = self.process.stdout.readline().strip()
            if line.startswith("ready"):
                self.ready = True
                self.load_seconds = float(line.split()[1]) if len(line.split()) > 1 else None
        return self.ready

    def send(self, run_id: str) -> str | None:
        """The spare's answer to a run id: `started <pid>`, `stale`, or None (gone or mute)."""
        try:
            self.process.stdin.write(run_id + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        if not select.select([self.process.stdout], [], [], REPLY_TIMEOUT_S)[0]:
            self.process.kill()
            return None
        return self.process.stdout.readline().strip() or None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@dataclass
class SparePool:
    size: int = 1  # idle spares kept per origin
    idle: list[Spare] = field(default_factory=list)
    running: dict[str, subprocess.Popen] = field(default_factory=dict)  # run id -> process
    exit_codes: dict[str, int] = field(default_factory=dict)  # recent runs' process exit codes
    closed: bool = False  # after stop_idle at shutdown: no new spares
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def hand_over(self, run_id: str, key: str, argv: list[str], cwd: str | None) -> tuple[int | None, str]:
        """(pid, "") when a spare took the run; (None, why not) otherwise."""
        with self._lock:
            spare = self._take_ready(key)
            if spare is None:
                self.fill(key, argv, cwd)
                return None, "no loaded process ready yet"
            reply = spare.send(run_id)
            if reply is None or not reply.startswith("started "):
                spare.stop()
                if reply and reply.startswith("stale"):  # every idle spare loaded the same code
                    self.stop_idle()
                self.fill(key, argv, cwd)
                return None, reply or "the loaded process did not answer"
            self.running[run_id] = spare.process
            threading.Thread(target=self._after_run, args=(run_id, spare.process, key, argv, cwd),
                             name=f"spare-{run_id[:8]}", daemon=True).start()
            return spare.process.pid, ""

    def _take_ready(self, key: str) -> Spare | None:
        for spare in list(self.idle):
            if spare.key != key:  # another code location version: of no use any more
                self.idle.remove(spare)
                spare.stop()
            elif spare.process.poll() is not None:
                self.idle.remove(spare)
                spare.process.wait()
            elif not spare.poll_ready() and time.monotonic() - spare.started > LOAD_TIMEOUT_S:
                self.idle.remove(spare)
                spare.stop()
        for spare in self.idle:
            if spare.poll_ready():
                self.idle.remove(spare)
                return spare
        return None

    def fill(self, key: str, argv: list[str], cwd: str | None) -> None:
        """Start spares until `size` are loading or ready for this origin."""
        with self._lock:
            while not self.closed and sum(1 for s in self.idle if s.key == key) < self.size:
                process = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           text=True, bufsize=1)
                self.idle.append(Spare(key, process))

    def _after_run(self, run_id: str, process: subprocess.Popen, key: str, argv: list[str], cwd: str | None) -> None:
        code = process.wait()
        with self._lock:
            self.exit_codes[run_id] = code  # before leaving `running`: health checks read without the lock
            self.running.pop(run_id, None)
            while len(self.exit_codes) > 1000:
                self.exit_codes.pop(next(iter(self.exit_codes)))
            self.fill(key, argv, cwd)

    def stop_idle(self, closing: bool = False) -> None:
        with self._lock:
            self.closed = self.closed or closing
            for spare in self.idle:
                spare.stop()
            self.idle.clear()
