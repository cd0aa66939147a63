"""A spare run process: imports Dagster and the code location once, says `ready`, then runs
the one run it is handed, the way `dagster api execute_run` would, and exits.

    python -m vol_pipeline.launcher.spare <instance ref> <repository origin> <job,job...>

Protocol on stdin/stdout, one line each: the spare writes `ready` once loaded; the launcher
writes a run id; the spare answers `started <pid>` and runs it, or `stale <why>` and exits,
when what it loaded is not what the run was made from: a source file changed since it was
imported, or the run's job snapshot (Dagster's hash of the job's structure and config schema,
taken by the code server) differs from the loaded job's, e.g. a daemon left on an older image.
The launcher then starts that run the cold way. End of stdin (the launcher's process is gone)
ends an idle spare.

A new process per run, as with Dagster's own launcher, so runs share no state; only the
~2-4 s of imports and code loading happen before the run is due instead of after.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import time

# Python's own and the installed packages' folders: files there are not the code location's.
INSTALLED = tuple({os.path.join(sysconfig.get_paths()[name], "") for name in ("stdlib", "platstdlib", "purelib", "platlib")})


def loaded_sources() -> dict[str, float]:
    """Modification times of the imported modules that are not part of Python or the
    installed packages: the code location's own files (an editable install included)."""
    sources = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.endswith(".py") and not path.startswith(INSTALLED):
            try:
                sources[path] = os.stat(path).st_mtime
            except OSError:
                continue
    return sources


def changed(sources: dict[str, float]) -> list[str]:
    out = []
    for path, mtime in sources.items():
        try:
            if os.stat(path).st_mtime != mtime:
                out.append(path)
        except OSError:
            out.append(path)
    return out


def stale_reason(run, snapshot_ids: dict[str, str], sources: dict[str, float]) -> str | None:
    if run is None:
        return "run not found"
    files = changed(sources)
    if files:
        return f"{len(files)} source file(s) changed since loading, e.g. {files[0]}"
    if snapshot_ids.get(run.job_name) != run.job_snapshot_id:
        return f"job {run.job_name}: the run's snapshot {run.job_snapshot_id} is not the loaded code's"
    return None


def main(argv: list[str]) -> int:
    # The protocol gets its own copy of stdout; everything printed (by the code when it loads,
    # by the run) goes to stderr, so no stray line can come between the launcher and `ready`.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    def say(line: str) -> None:
        protocol.write(line + "\n")
        protocol.flush()

    return _serve(argv, say)


def _serve(argv: list[str], say) -> int:
    from dagster._cli.api import _execute_run_command_body
    from dagster._core.execution.run_cancellation_thread import start_run_cancellation_thread
    from dagster._core.instance import DagsterInstance, InstanceRef
    from dagster._core.origin import RepositoryPythonOrigin
    from dagster._core.snap import JobSnap
    from dagster._serdes import deserialize_value
    from dagster._utils.interrupts import capture_interrupts
    from dagster._utils.hosted_user_process import recon_repository_from_origin

    started = time.monotonic()
    instance_ref = deserialize_value(argv[0], InstanceRef)
    origin = deserialize_value(argv[1], RepositoryPythonOrigin)
    instance = DagsterInstance.from_ref(instance_ref)
    # Imports the code location and builds its repository: a run's own load of the same
    # pointer then finds the module imported and the repository built.
    repository = recon_repository_from_origin(origin).get_definition()
    snapshot_ids = {name: JobSnap.from_job_def(repository.get_job(name)).snapshot_id
                    for name in argv[2].split(",") if name and repository.has_job(name)}
    sources = loaded_sources()
    say(f"ready {time.monotonic() - started:.2f}")

    try:
        run_id = sys.stdin.readline().strip()
    except KeyboardInterrupt:  # Ctrl-C of `dagster dev` reaches its whole process group
        return 0
    if not run_id:
        return 0
    reason = stale_reason(instance.get_run_by_id(run_id), snapshot_ids, sources)
    if reason:
        say(f"stale {reason}")
        return 0
    say(f"started {os.getpid()}")
    # As `dagster api execute_run`: interrupts (terminate) become Dagster's, raised inside
    # the steps. Terminate from the UI marks the run CANCELING; this thread interrupts the
    # run when it sees that (the launcher also signals the process when it is its child).
    with capture_interrupts():
        thread, shutdown = start_run_cancellation_thread(instance, run_id)
        try:
            _execute_run_command_body(run_id, instance, write_stream_fn=lambda _event: None,
                                      set_exit_code_on_failure=False)
        finally:
            shutdown.set()
            thread.join(timeout=5)
            instance.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
