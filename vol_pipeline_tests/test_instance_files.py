"""The CLI's instance file and the repo-root dagster.yaml say the same, and Dagster accepts both."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import yaml

from vol_pipeline.runs import instance_yaml

ROOT = Path(__file__).resolve().parents[1]


def test_cli_instance_matches_the_repo_root_file(tmp_path):
    """The same, except that the CLI's file names its event-log folder (the repo root's is
    found through DAGSTER_HOME, which dagster dev, the webserver and the daemon set)."""
    cli = yaml.safe_load(instance_yaml(tmp_path))
    assert cli["event_log_storage"].pop("config") == {"base_dir": str(tmp_path / "history" / "runs")}
    assert cli == yaml.safe_load((ROOT / "dagster.yaml").read_text())


def test_queued_runs_are_checked_every_second(tmp_path):
    (tmp_path / "dagster.yaml").write_text(instance_yaml(tmp_path))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        coordinator = instance.run_coordinator
        assert type(coordinator).__name__ == "QueuedRunCoordinator"
        assert coordinator.dequeue_interval_seconds == 1
        assert coordinator.get_run_queue_config().max_concurrent_runs == 4


PARTITION_LIMIT = {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}


def test_every_instance_file_runs_one_run_per_minute_partition_at_a_time(tmp_path, monkeypatch):
    """The repo root's, the CLI's and production's: Dagster reads the same limit from each."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "root"))  # where the root file's event log goes
    files = {"cli": instance_yaml(tmp_path / "cli"), "root": (ROOT / "dagster.yaml").read_text()}
    for name, text in files.items():
        home = tmp_path / name
        home.mkdir(exist_ok=True)
        (home / "dagster.yaml").write_text(text)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            limits = instance.run_coordinator.get_run_queue_config().tag_concurrency_limits
        assert PARTITION_LIMIT in limits, name
    production = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    assert PARTITION_LIMIT in production["run_coordinator"]["config"]["tag_concurrency_limits"]
