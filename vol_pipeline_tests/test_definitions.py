"""The code location that workspace.yaml points at loads."""

import re

import dagster as dg
import yaml
from pathlib import Path

from vol_pipeline.definitions import defs

ROOT = Path(__file__).resolve().parents[1]


def test_workspace_points_at_the_definitions_module():
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    modules = [entry["python_module"]["module_name"] for entry in workspace["load_from"]]
    assert modules == ["vol_pipeline.definitions"]


def test_definitions_load():
    assert isinstance(defs, dg.Definitions)
    dg.Definitions.validate_loadable(defs)


def test_core_layer_has_no_dagster_import():
    import_line = re.compile(r"^\s*(import|from)\s+dagster", re.MULTILINE)
    core = ROOT / "vol_pipeline" / "core"
    offenders = [p.name for p in core.glob("*.py") if import_line.search(p.read_text())]
    assert offenders == []
