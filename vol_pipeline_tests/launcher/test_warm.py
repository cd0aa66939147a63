"""WarmRunLauncher's own decisions, without a daemon (the whole path runs in
defs/test_warm_launcher.py, the production routing in test_deploy.py)."""

from __future__ import annotations


def test_a_spare_that_cannot_start_loses_no_run(tmp_path):
    """The launcher's side: a pool that fails (here: no such interpreter) sends the run to the
    fallback with the reason in its events."""
    import dagster as dg
    from dagster._core.code_pointer import ModuleCodePointer
    from dagster._core.launcher import LaunchRunContext
    from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin

    from vol_pipeline.launcher import RUN_PROCESS_TAG, WarmRunLauncher

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        launcher = WarmRunLauncher()
        launcher.register_instance(instance)
        fallback = []
        launcher.fallback.launch_run = lambda context: fallback.append(context.dagster_run.run_id)
        code = RepositoryPythonOrigin(str(tmp_path / "no-python"), ModuleCodePointer("vol_pipeline.definitions", "defs", None))
        run = instance.add_run(dg.DagsterRun("minute_job", job_code_origin=JobPythonOrigin("minute_job", code)))
        launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
        assert fallback == [run.run_id]
        assert instance.get_run_by_id(run.run_id).tags[RUN_PROCESS_TAG] == "cold"
        assert any("the spare pool failed (FileNotFoundError" in (e.message or "") for e in instance.all_logs(run.run_id))
