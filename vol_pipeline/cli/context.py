"""What the data commands share: settings from the environment and the warehouse."""

from __future__ import annotations

from vol_pipeline.cli.errors import CliError
from vol_pipeline.settings import Settings
from vol_pipeline.storage.warehouse import Warehouse


def settings_from_env() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as error:  # a bad VOL_PIPELINE_* value: one line, no traceback
        raise CliError(str(error)) from None


def warehouse(settings: Settings) -> Warehouse:
    from vol_pipeline.storage.open import open_warehouse

    return open_warehouse(settings.warehouse_path, settings.warehouse_url, settings.warehouse_url_secret)
