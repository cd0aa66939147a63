"""A run launcher that starts the per-minute runs in processes loaded before the minute closes,
and every other run with another launcher (Dagster's default locally, ECS in production).

Dagster's DefaultRunLauncher spawns a new Python process per run, which imports Dagster and
loads the code location (~2.5 s of the measured bar -> recommendation latency); an ECS task per
run takes tens of seconds to start. Here the daemon keeps `spares` processes per code origin
that have already done both (vol_pipeline/launcher/spare.py) and hands each run of a
`warm_jobs` job to one of them. Everything else, and a warm job's run when no spare is ready
(the first run after a start, a catch-up burst, changed code), goes to `fallback`.

    run_launcher:
      module: vol_pipeline.launcher
      class: WarmRunLauncher
      config:
        warm_jobs: [minute_job]          # default
        spares: 1                        # default
        fallback:                        # default: dagster's DefaultRunLauncher
          module: dagster_aws.ecs
          class: EcsRunLauncher
          config: {...}
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Mapping
from typing import Any

import yaml
from dagster import Array, Field, Permissive, Shape
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, ResumeRunContext, RunLauncher, WorkerStatus
from dagster._core.launcher.default_run_launcher import DefaultRunLauncher
from dagster._serdes import ConfigurableClass, ConfigurableClassData, serialize_value

from vol_pipeline.launcher.pool import SparePool

RUN_PROCESS_TAG = "vol_pipeline/run_process"  # warm | cold: which path started the run
WARM, COLD = "warm", "cold"
DEFAULT_WARM_JOBS = ["minute_job"]  # vol_pipeline.defs.jobs.MINUTE_JOB (not imported: the instance loads this module)


class WarmRunLauncher(RunLauncher, ConfigurableClass):
    def __init__(self, inst_data: ConfigurableClassData | None = None, warm_jobs: list[str] | None = None,
                 spares: int = 1, fallback: Mapping[str, Any] | None = None):
        self._inst_data = inst_data
        self.warm_jobs = frozenset(DEFAULT_WARM_JOBS if warm_jobs is None else warm_jobs)
        self.fallback: RunLauncher = (
            ConfigurableClassData(fallback["module"], fallback["class"], yaml.safe_dump(dict(fallback.get("config") or {})))
            .rehydrate(as_type=RunLauncher)
            if fallback else DefaultRunLauncher()
        )
        self.pool = SparePool(size=spares)
        super().__init__()

    # -- configuration -----------------------------------------------------------------------
    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls):
        return {
            "warm_jobs": Field(Array(str), is_required=False, default_value=DEFAULT_WARM_JOBS,
                               description="Jobs whose runs start in a loaded spare process."),
            "spares": Field(int, is_required=False, default_value=1,
                            description="Idle loaded processes kept per code location."),
            "fallback": Field(Shape({"module": str, "class": str, "config": Field(Permissive(), is_required=False)}),
                              is_required=False, description="The launcher for every other run (default: Dagster's)."),
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]):
        return cls(inst_data=inst_data, **config_value)

    def register_instance(self, instance) -> None:
        super().register_instance(instance)
        self.fallback.register_instance(instance)

    # -- launching ---------------------------------------------------------------------------
    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        if run.job_name in self.warm_jobs and run.job_code_origin is not None:
            # Tagged before the hand-over: from then on the spare may mark the run STARTED,
            # and terminate and run monitoring must find it theirs, not the fallback's.
            self._instance.add_run_tags(run.run_id, {RUN_PROCESS_TAG: WARM})
            try:
                pid, why_not = self._hand_over(run)
            except Exception as error:  # the warm path never costs a run: it starts the cold way
                pid, why_not = None, f"the spare pool failed ({type(error).__name__}: {error})"
            if pid is not None:
                self._instance.report_engine_event(
                    f"Started in a loaded spare process (pid {pid}): Dagster and the code location were imported before the run was due.",
                    run, cls=self.__class__)
                return
            self._instance.report_engine_event(f"Starting a new run process: {why_not}.", run, cls=self.__class__)
        self._instance.add_run_tags(run.run_id, {RUN_PROCESS_TAG: COLD})
        self.fallback.launch_run(context)

    def _hand_over(self, run) -> tuple[int | None, str]:
        origin = run.job_code_origin.repository_origin
        key = serialize_value(origin)
        argv = [origin.executable_path or sys.executable, "-m", "vol_pipeline.launcher.spare",
                serialize_value(self._instance.get_ref()), key, ",".join(sorted(self.warm_jobs))]
        return self.pool.hand_over(run.run_id, key, argv, getattr(origin.code_pointer, "working_directory", None))

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        if run.tags.get(RUN_PROCESS_TAG) != WARM:
            return self.fallback.terminate(run_id)
        # The spare's cancellation thread interrupts the run once it sees CANCELING; the process
        # is also signalled right away when it is this daemon's child.
        self._instance.report_run_canceling(run)
        process = self.pool.running.get(run_id)
        if process is not None:
            process.send_signal(signal.SIGINT)  # Popen does nothing once it has reaped the process
        return True

    # -- monitoring and shutdown -------------------------------------------------------------
    @property
    def supports_check_run_worker_health(self) -> bool:
        return self.fallback.supports_check_run_worker_health

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        if run.tags.get(RUN_PROCESS_TAG) != WARM:
            return self.fallback.check_run_worker_health(run)
        process = self.pool.running.get(run.run_id)
        if process is not None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"spare process {process.pid} running")
        code = self.pool.exit_codes.get(run.run_id)
        if code is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "started by a daemon process that has since restarted")
        status = WorkerStatus.SUCCESS if code == 0 else WorkerStatus.FAILED
        return CheckRunHealthResult(status, f"spare process exited with code {code}")

    @property
    def supports_resume_run(self) -> bool:
        return self.fallback.supports_resume_run

    def resume_run(self, context: ResumeRunContext) -> None:
        self.fallback.resume_run(context)

    def join(self, timeout: int = 30) -> None:
        self.fallback.join(timeout)

    def dispose(self) -> None:
        self.pool.stop_idle(closing=True)
        self.fallback.dispose()
