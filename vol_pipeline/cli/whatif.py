"""`whatif --from DATE --to DATE --rules A,B --out FILE`: named rule sets side by side over stored sessions.

By default the comparison is computed once, inside an in-process run that materializes
the `rule_comparison` asset on the CLI's Dagster instance (so the UI shows it, with its
chart); the run hands the table back to this process, which writes --out and prints it.
With `--no-record` it is computed here directly and Dagster is never imported.

Everything the run could reject as bad input (the --out type, the rule names, the rules
file, a range without sessions or without stored bars) is checked before the run starts:
exit 2 with one line, and no failed run is left in the instance.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from vol_pipeline.cli.context import settings_from_env, warehouse
from vol_pipeline.cli.errors import CliError
from vol_pipeline.settings import Settings

OUT_TYPES = (".csv", ".parquet")


def whatif(args: argparse.Namespace) -> str:
    from vol_pipeline.core.rule_comparison import comparison_text
    from vol_pipeline.core.rule_sets import OFF_SUFFIX, load_rule_sets, resolve, rule_set_entry, split_names
    from vol_pipeline.sources.files import write_frame
    from vol_pipeline.stored_comparison import check_range, stored_comparison

    out = Path(args.out)
    if out.suffix.lower() not in OUT_TYPES:
        raise CliError(f"--out {out}: unsupported file type {out.suffix or '(none)'!r}; use .csv or .parquet")
    names = split_names(args.rules)  # BadInputError: exit 2, like everything below
    defined = load_rule_sets(args.rules_file) if args.rules_file else {}
    rule_sets = resolve(names, defined)
    settings = settings_from_env()
    store = warehouse(settings)
    if args.no_record:
        result = stored_comparison(store, args.date_from, args.date_to, rule_sets, settings.warehouse_location)
        recorded = "not recorded in Dagster (--no-record)"
    else:
        check_range(store, args.date_from, args.date_to, settings.warehouse_location)
        used = dict.fromkeys(name.removesuffix(OFF_SUFFIX) for name in names)
        entries = [rule_set_entry(defined[name]) for name in used if name in defined]
        result, run_id = _record(settings, args, names, entries)
        recorded = f"recorded in Dagster: asset rule_comparison, run {run_id} ({settings.dagster_home})"
    write_frame(result.table, out)
    lines = [
        f"What-if {args.date_from}..{args.date_to}: {_count(len(rule_sets), 'rule set')} over "
        f"{_count(len(result.sessions), 'session')} with stored bars ({settings.warehouse_location})",
        comparison_text(result.table),
        f"wrote {result.table.height} rows to {out}; {recorded}",
    ]
    if result.without_bars:
        days = ", ".join(day.isoformat() for day in result.without_bars)
        lines.insert(1, f"sessions without stored bars (not in the table): {days}")
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _record(settings: Settings, args: argparse.Namespace, names: list[str], entries: list[dict]):
    """Materialize rule_comparison in process on the CLI instance; returns (its comparison, the run id)."""
    import dagster as dg

    from vol_pipeline.defs.rule_comparison import ASSET, build_rule_comparison
    from vol_pipeline.defs.resources import WarehouseResource
    from vol_pipeline.runs import QUIET_RUN_CONFIG, cli_instance, failure_message
    from vol_pipeline.settings import WAREHOUSE_URL_VAR

    url = settings.warehouse_url
    if url and os.environ.get(WAREHOUSE_URL_VAR) == url:
        url = dg.EnvVar(WAREHOUSE_URL_VAR)  # never stored or shown by Dagster (as definitions.py does)
    resource = WarehouseResource(path=str(settings.warehouse_path), url=url, url_secret_id=settings.warehouse_url_secret)
    config = {"from_date": args.date_from.isoformat(), "to_date": args.date_to.isoformat(), "rules": names,
              "rule_sets": entries}
    computed = []
    with cli_instance(settings) as instance:
        result = dg.materialize(
            [build_rule_comparison(sink=computed.append)], instance=instance, resources={"warehouse": resource},
            run_config={**QUIET_RUN_CONFIG, "ops": {ASSET: {"config": config}}},
            tags={"vol_pipeline/trigger": "cli"}, raise_on_error=False,
        )
    if not result.success:
        raise CliError(failure_message(result), code=1)
    return computed[0], result.run_id
