"""The `vol-pipeline` command.

Each subcommand's module is imported only when it runs: the pure-compute commands load
polars and the core layer only (no Dagster, no pandera), so they start fast. Bad input
ends in one line on stderr and a non-zero exit (see cli/errors.py), never a traceback.
Every command that touches stored data honours VOL_PIPELINE_HOME.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from datetime import date

from vol_pipeline.cli.errors import EXIT_BAD_INPUT, CliError

TABLE_NAMES = ("bars", "bars_quarantine", "bar_revisions", "lane_features", "signals", "recommendations", "executions",
               "outcomes", "session_report", "news_items", "news_sentiment", "watchlist")


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _command(commands, name: str, handler: str, help_text: str) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vol-pipeline", description="Intraday equity volume signals.")
    commands = parser.add_subparsers(dest="command", required=True)

    features = _command(commands, "features", "compute:features", "compute lane_features for a CSV/Parquet bar file")
    features.add_argument("--bars", required=True, help="bar file (.csv or .parquet)")
    features.add_argument("--out", required=True, help="output file (.csv or .parquet)")
    features.add_argument("--prior-20", action="store_true", help="average the 20 bars BEFORE the current one")
    features.add_argument("--tickers", help="watchlist, e.g. AAPL,MSFT: rows of other tickers are rejected")

    generate = _command(commands, "generate", "compute:generate", "write deterministic synthetic NYSE bars")
    generate.add_argument("--tickers", default="AAPL,MSFT,TSLA,GOOGL,AMZN,META,NVDA")
    generate.add_argument("--start", type=_iso_date, required=True, help="first session on or after this date")
    generate.add_argument("--days", type=int, default=1, help="number of sessions")
    generate.add_argument("--seed", type=int, default=7)
    generate.add_argument("--out", required=True, help="output file (.csv or .parquet)")

    fetch = _command(commands, "fetch", "fetch:fetch",
                     "download NYSE sessions of 1-minute bars from Alpaca into a file for `replay` "
                     "(credentials: APCA_API_KEY_ID / APCA_API_SECRET_KEY or VOL_PIPELINE_ALPACA_SECRET)")
    fetch.add_argument("--tickers", required=True, help="symbols, e.g. AAPL,MSFT")
    fetch.add_argument("--start", type=_iso_date, required=True, help="first session date, YYYY-MM-DD (included)")
    fetch.add_argument("--end", type=_iso_date, required=True, help="last session date, YYYY-MM-DD (included)")
    fetch.add_argument("--out", required=True, help="output file (.csv or .parquet)")
    fetch.add_argument("--feed", choices=("iex", "sip"), help="Alpaca feed (default VOL_PIPELINE_ALPACA_FEED or iex)")

    classify = _command(commands, "classify", "news:classify",
                        "label a news file's headlines (sentiment label and score, tickers named) without Dagster")
    classify.add_argument("--news", required=True, help="news file (.jsonl, .csv or .parquet): published, title, ...")
    classify.add_argument("--out", required=True, help="output file (.jsonl, .csv or .parquet)")
    classify.add_argument("--tickers", help="universe, e.g. AAPL,MSFT (default VOL_PIPELINE_TICKERS or the seed's 7)")

    demo = _command(commands, "demo", "platform:demo",
                    "materialize a synthetic session through the Dagster job into the embedded warehouse")
    demo.add_argument("--session", type=_iso_date, help="NYSE session to run (default: the last one before today)")
    demo.add_argument("--news", action="store_true",
                      help="with generated headlines: signals use sentiment and its gate (default: no news)")

    replay = _command(commands, "replay", "platform:replay", "materialize every minute of a bar file through the Dagster job")
    replay.add_argument("--bars", required=True, help="bar file (.csv or .parquet)")
    replay.add_argument("--news", help="recorded news file beside the bars (.jsonl, .csv or .parquet: published, "
                        "title, summary, tickers optional): signals use its sentiment and the gate")

    export = _command(commands, "export", "tables:export", "write a warehouse table to a .parquet or .csv file")
    export.add_argument("table", choices=TABLE_NAMES)
    export.add_argument("--out", required=True, help="output file (.csv or .parquet)")

    report = _command(commands, "report", "report:report",
                      "build a session's outcomes and report (execution rate, win rate, what-if, checklist) and print it")
    report.add_argument("session_date", type=_iso_date, help="NYSE session, YYYY-MM-DD")
    report.add_argument("--stored", action="store_true", help="print the stored report without re-building it")

    whatif = _command(commands, "whatif", "whatif:whatif",
                      "replay named rule sets side by side over stored sessions and write the comparison")
    whatif.add_argument("--from", dest="date_from", type=_iso_date, required=True, help="first session, YYYY-MM-DD")
    whatif.add_argument("--to", dest="date_to", type=_iso_date, required=True, help="last session, YYYY-MM-DD")
    whatif.add_argument("--rules", default="1.0-phase12,1.0-phase12+multiplier-off",
                        help="comma-separated rule set names: built in, NAME+multiplier-off, or from --rules-file")
    whatif.add_argument("--rules-file", help="TOML or JSON file defining more rule sets (multiplier table, confidence gate)")
    whatif.add_argument("--out", required=True, help="output file (.csv or .parquet)")
    whatif.add_argument("--no-record", action="store_true", help="do not record the comparison in Dagster")

    db = _command(commands, "db", "", "PostgreSQL warehouse schema (needs VOL_PIPELINE_WAREHOUSE_URL)")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    _command(db_commands, "upgrade", "db:upgrade", "apply pending schema migrations (safe to run again)")
    _command(db_commands, "status", "db:status", "list the schema migrations and which are applied")

    _command(commands, "status", "tables:status", "volume data per ticker and the newest recommendations (read-only)")
    _command(commands, "doctor", "doctor:doctor",
             "one line per concern (sensor, last minute, runs, instance size, warehouse, retention); exit 1 when behind")

    explain = _command(commands, "explain", "tables:explain", "show how one recommendation's confidence was derived")
    explain.add_argument("id", help="recommendation id, e.g. AAPL-20261123T1430Z")
    return parser


def main(argv: list[str] | None = None) -> int:
    from vol_pipeline.core.errors import BadInputError

    args = build_parser().parse_args(argv)
    module, function = args.handler.split(":")
    handler = getattr(importlib.import_module(f"vol_pipeline.cli.{module}"), function)
    try:
        print(handler(args))
    except CliError as error:
        if error.report:
            print(error.report)
        print(f"error: {error}", file=sys.stderr)
        return error.code
    except BadInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:  # the warehouse or the secret store failed: one line, like `db`
        if not isinstance(error, _store_errors()):
            raise
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _store_errors() -> tuple[type[Exception], ...]:
    """Failures of stored data whose messages are written for people and never hold
    credentials (imported only when something failed: the compute commands stay light)."""
    from vol_pipeline.secrets import SecretError
    from vol_pipeline.storage.duckdb_warehouse import WarehouseBusyError
    from vol_pipeline.storage.postgres_warehouse import WarehouseSchemaError, WarehouseUnavailableError

    return WarehouseUnavailableError, WarehouseSchemaError, WarehouseBusyError, SecretError


if __name__ == "__main__":
    sys.exit(main())
