"""rule_comparison: named rule sets replayed side by side over a range of stored sessions.

The Dagster record of `vol-pipeline whatif` (which materializes this asset in process on
the CLI's instance): the table of core/rule_comparison.py from the stored bars and
lane_features, shown as metadata: the totals per rule set, the whole table as markdown,
a PNG chart of execution rate and P&L per rule set, and what each rule set name meant.

Not partitioned (a run covers the range its config names) and not a warehouse table. The
run config holds names and numbers only: `rules` (names, as `--rules`) and `rule_sets`
(the definitions of names that are not built in, as entries of a rules file), so a run
reads no file the launchpad names and writes none. The CLI gets the table back through
`sink`, a Python callable of its own in-process copy of the asset.

Its own group, not `session_reporting`: `session_job` selects that group, and this asset
must not run with every session's report. This module lives outside defs/assets/ so the CLI
can build the asset without importing that package (its session_archive pulls in
dagster_aws: about a second of a recorded `whatif`); defs/assets/__init__.py registers it.
"""

from collections.abc import Callable
from datetime import date

import dagster as dg
import polars as pl
from pydantic import Field

from vol_pipeline.core.errors import BadInputError
from vol_pipeline.core.rule_comparison import BUCKETS, comparison_markdown
from vol_pipeline.core.rule_sets import (
    DEFAULT_COMPARISON, NamedRuleSet, parse_rule_sets, resolve, rule_set_entry, split_names,
)
from vol_pipeline.defs.charts import rule_comparison_chart
from vol_pipeline.defs.resources import WarehouseResource
from vol_pipeline.stored_comparison import StoredComparison, stored_comparison

ASSET = "rule_comparison"
GROUP = "rule_analysis"
OWNERS = ["team:quant-ops"]  # as every asset (defs/assets/common.py)
KINDS = {"polars", "duckdb"}


class RuleSetConfig(dg.Config):
    """One rule set that is not built in (a rules-file entry); omitted values are the default rule set's."""

    name: str
    tiers: dict[str, float] | None = Field(default=None, description="volume_ratio upper bound (strict <) -> multiplier")
    surge_multiplier: float | None = None
    null_volume_multiplier: float | None = None
    min_confidence: float | None = Field(default=None, description="the dispatch confidence gate")


class RuleComparisonConfig(dg.Config):
    from_date: str = Field(description="first session, YYYY-MM-DD")
    to_date: str = Field(description="last session, YYYY-MM-DD")
    rules: list[str] = Field(default=list(DEFAULT_COMPARISON),
                             description="rule set names, in order: built in, NAME+multiplier-off, or one of rule_sets")
    rule_sets: list[RuleSetConfig] = Field(default=[], description="definitions of the names that are not built in")


def selected_rule_sets(config: RuleComparisonConfig) -> list[NamedRuleSet]:
    """The rule sets a config names (BadInputError as for `--rules` / `--rules-file`)."""
    entries = [{key: value for key, value in entry.model_dump().items() if value is not None}
               for entry in config.rule_sets]
    defined = parse_rule_sets({"rule_set": entries}, "rule_sets") if entries else None
    return resolve(split_names(",".join(config.rules)), defined)


def _date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise dg.Failure(f"{field}: not a date (YYYY-MM-DD): {text!r}") from None


def _totals_table(totals: pl.DataFrame) -> dg.TableMetadataValue:
    kinds = {"rules": "string", "recommendations": "int", "executions": "int", "execution_rate": "float",
             "trades": "int", "wins": "int", "losses": "int", "flat": "int", "win_rate": "float", "pnl": "float",
             **{b: "int" for b in BUCKETS}}
    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in kinds.items()])
    records = [dg.TableRecord({name: row[name] for name in kinds}) for row in totals.iter_rows(named=True)]
    return dg.MetadataValue.table(records=records, schema=schema)


def comparison_metadata(first: date, last: date, rule_sets: list[NamedRuleSet], result: StoredComparison) -> dict:
    totals = result.table.filter(pl.col("session").is_null())
    definitions = {entry.pop("name"): entry for entry in (rule_set_entry(r, complete=True) for r in rule_sets)}
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "sessions": len(result.sessions),
        "sessions_without_bars": dg.MetadataValue.json([day.isoformat() for day in result.without_bars]),
        "rule_sets": dg.MetadataValue.json(definitions),
        "totals": _totals_table(totals),
        "comparison": dg.MetadataValue.md(comparison_markdown(result.table)),
        "chart": dg.MetadataValue.md(rule_comparison_chart(totals.to_dicts())),
        "dagster/row_count": result.table.height,
    }


def build_rule_comparison(sink: Callable[[StoredComparison], None] | None = None) -> dg.AssetsDefinition:
    """The asset; `sink` (in-process runs only, e.g. the CLI's) receives the computed comparison."""

    @dg.asset(
        name=ASSET,
        deps=["bars", "lane_features"],
        group_name=GROUP,
        owners=OWNERS,
        kinds=KINDS,
        description="Named rule sets replayed side by side over a range of stored sessions (vol-pipeline whatif): "
                    "recommendations, executions, execution rate, win rate, P&L and multiplier buckets per session "
                    "and rule set, with totals and a chart.",
    )
    def rule_comparison(context: dg.AssetExecutionContext, config: RuleComparisonConfig,
                        warehouse: WarehouseResource) -> dg.MaterializeResult:
        first, last = _date(config.from_date, "from_date"), _date(config.to_date, "to_date")
        try:
            rule_sets = selected_rule_sets(config)
            result = stored_comparison(warehouse.get(), first, last, rule_sets)
        except BadInputError as error:
            raise dg.Failure(str(error)) from None
        if sink is not None:
            sink(result)
        context.log.info(f"compared {len(rule_sets)} rule sets over {len(result.sessions)} sessions")
        return dg.MaterializeResult(metadata=comparison_metadata(first, last, rule_sets, result))

    return rule_comparison
