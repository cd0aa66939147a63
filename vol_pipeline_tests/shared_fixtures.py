"""Helpers for expensive test scenarios shared across pytest-xdist workers."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from filelock import FileLock


def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """`build(folder)` runs once per test session; pytest-xdist workers share the result."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, shared by all workers
    target = root / name
    with FileLock(str(root / f"{name}.lock")):
        if not (target / ".done").exists():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            build(target)
            (target / ".done").touch()
    return target


def save_tables(folder: Path, label: str, tables: dict) -> None:
    """A scenario's tables at one moment (`label`), one Parquet file each, for the tests to read."""
    for name, frame in tables.items():
        frame.write_parquet(folder / f"{label}.{name}.parquet")


def load_tables(folder: Path, label: str, names: Iterable[str]) -> dict:
    """The tables `save_tables` wrote under `label`."""
    import polars as pl

    return {name: pl.read_parquet(folder / f"{label}.{name}.parquet") for name in names}


class CliScenario:
    """The results.json a CLI scenario's build wrote in `work` (each command's code, stdout,
    stderr by name), and its VOL_PIPELINE_HOME in work/home."""

    def __init__(self, work: Path):
        self.work = work
        self.home = work / "home"
        self.results = json.loads((work / "results.json").read_text())

    def __getitem__(self, name: str) -> dict:
        return self.results[name]


def cli_home_instance(home):
    """The Dagster instance of a CLI home, opened as the CLI opens it (paths the home's
    dagster.yaml leaves to DAGSTER_HOME resolve against the home, whatever the env has)."""
    from datetime import date

    from vol_pipeline.runs import cli_instance
    from vol_pipeline.settings import Settings

    return cli_instance(Settings(home=home, partition_start=date(2026, 1, 1)))
