"""The CLI's instance file and the repo-root dagster.yaml say the same, and Dagster accepts both."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import yaml

from vol_pipeline.runs import INSTANCE_YAML

ROOT = Path(__file__).resolve().parents[1]


def test_cli_instance_matches_the_repo_root_file():
    assert yaml.safe_load(INSTANCE_YAML) == yaml.safe_load((ROOT / "dagster.yaml").read_text())


def test_queued_runs_are_checked_every_second(tmp_path):
    (tmp_path / "dagster.yaml").write_text(INSTANCE_YAML)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        coordinator = instance.run_coordinator
        assert type(coordinator).__name__ == "QueuedRunCoordinator"
        assert coordinator.dequeue_interval_seconds == 1
        assert coordinator.get_run_queue_config().max_concurrent_runs == 4
