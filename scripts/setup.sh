#!/usr/bin/env bash
# Create .venv and install vol_pipeline with its test tools (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip setuptools  # venv's bundled setuptools has advisories
.venv/bin/python -m pip install --quiet -e '.[dev]'
