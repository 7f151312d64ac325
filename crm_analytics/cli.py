"""``crm-analytics`` — the command line. Each command is thin: it parses arguments
and calls the same function a notebook would call.

Exit codes: 0 ok; 1 the run (or command) failed after it started; 2 usage or
input error (bad option, bad file, bad config) — always one line on stderr,
never a traceback (``--verbose`` adds it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import gzip
import logging
import math
import os
import re
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from crm_analytics.errors import CRMError, InputError, RunError, StoreBusyError
from crm_analytics.store.schema import TABLES

log = logging.getLogger("crm_analytics.cli")

TABLE_NAMES = tuple(TABLES)  # every table of the data contract: load, rejects --table


class UsageError(InputError):
    """A command-line argument is wrong."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


# -- argument types: an argument of the wrong shape is refused by argparse, in one
# line naming the option ("argument --limit: ..."), before anything runs. --------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".json", ".gz", ".xlsx", ".zip")


def _int_at_least(minimum: int, maximum: int | None = None) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            upper = f" and at most {maximum}" if maximum is not None else ""
            raise argparse.ArgumentTypeError(
                f"must be a whole number of at least {minimum}{upper}; got {text!r}")
        return value
    parse.__name__ = "int"
    return parse


_customers = _int_at_least(1, 1_000_000)
_count = _int_at_least(0)
_seed = _int_at_least(0, 2**32 - 1)


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a share between 0 and 1 (e.g. 0.05); got {text!r}")
    return value


def _iso_date(text: str) -> str:
    """A calendar date written YYYY-MM-DD (nothing else: 01/02/2024 is ambiguous)."""
    value = text.strip()
    try:
        if not _DATE.match(value):
            raise ValueError
        dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2024-12-31") from None
    return value


def _text(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _date_format(text: str) -> str:
    if "%" not in text:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a strptime format; use e.g. '%d/%m/%Y'")
    return text


def _existing_ancestor(path: Path) -> Path:
    for parent in (path, *path.parents):
        if parent.exists():
            return parent
    return Path(".")


def _writable_under(path: Path, text: str) -> None:
    """Refuse a path that cannot be created: under a regular file or an unwritable folder."""
    anchor = _existing_ancestor(path.parent)
    if not anchor.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {anchor} is a file, not a folder")
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: no permission to write in {anchor}")


def _input_file(text: str) -> str:
    """An existing, readable regular file."""
    path = Path(_text(text))
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a folder; give a file")
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: file not found")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text}: no permission to read it")
    return text


def _out_dir(text: str) -> str:
    """A folder that exists (and is writable) or can be created."""
    path = Path(_text(text))
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise argparse.ArgumentTypeError(f"{text}: no permission to write in this folder")
        return text
    if path.exists():
        raise argparse.ArgumentTypeError(f"{text}: is a file; give a folder")
    _writable_under(path, text)
    return text


def _out_file(text: str) -> str:
    """A file path that can be written (it may exist; it must not be a folder)."""
    path = Path(_text(text))
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a folder; give a file path such as "
                                         f"{path / 'contacts.csv'}")
    _writable_under(path, text)
    return text


def _store_path(text: str) -> str:
    """A store file: ``:memory:``, an existing file or one that can be created."""
    if text == ":memory:":
        return text
    path = Path(_text(text))
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a folder; give the store file, e.g. "
                                         f"{path / 'crm.duckdb'}")
    if path.name.lower().endswith(_DATA_SUFFIXES):
        raise argparse.ArgumentTypeError(
            f"{text}: is a data file name, not a store; load it with `crm-analytics load` "
            "and pass the store file (e.g. crm.duckdb) as --db")
    _writable_under(path, text)
    return text


def _db_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=None, metavar="PATH", type=_store_path,
                   help="store file (default: $CRM_ANALYTICS_DB or ./crm.duckdb)")


def _verbosity(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    g.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``crm-analytics`` (all subcommands)."""
    parser = _Parser(
        prog="crm-analytics",
        description="Customer analytics on a DuckDB store: load, score, publish, export.",
        epilog="Every command that touches a store takes --db PATH; exit codes: 0 ok, "
               "1 failed, 2 usage or input error.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("init", help="create an empty store with the canonical tables")
    _db_arg(p)
    p.add_argument("--adopt", action="store_true",
                   help="add the crm_analytics tables to an existing DuckDB database "
                        "that is not a crm_analytics store yet")
    _verbosity(p)

    p = sub.add_parser("load", help="validate and load a CSV/Parquet file (or glob) into a table")
    p.add_argument("table", choices=TABLE_NAMES)
    p.add_argument("path", type=_text, help="file, glob ('exports/*.csv') or Parquet file")
    _db_arg(p)
    p.add_argument("--map", action="append", default=[], metavar="SOURCE=CANONICAL",
                   help="rename a source column, e.g. --map 'Cust No=customer_id' (repeatable)")
    p.add_argument("--const", action="append", default=[], metavar="COLUMN=VALUE",
                   help="value for a column the file lacks, e.g. --const scale_max=10 (repeatable)")
    p.add_argument("--mode", choices=("append", "upsert"), default="append",
                   help="upsert updates keys that exist with other values (default: append)")
    p.add_argument("--date-format", action="append", default=None, metavar="FMT", type=_date_format,
                   help="strptime format tried after ISO dates, e.g. '%%d/%%m/%%Y' (repeatable)")
    p.add_argument("--encoding", default=None, type=_text, help="utf-8 (default), utf-16 or latin-1")
    p.add_argument("--create-customers", action="store_true",
                   help="create bare customers for unknown customer_ids instead of rejecting rows")
    p.add_argument("--delimiter", default=None, metavar="CHAR", type=_text,
                   help="field separator: one character, '\\t' or 'whitespace' (runs of "
                        "blanks); default: sniffed")
    hdr = p.add_mutually_exclusive_group()
    hdr.add_argument("--header", dest="header", action="store_const", const=True, default=None,
                     help="line 1 holds column names (default: sniffed)")
    hdr.add_argument("--no-header", dest="header", action="store_const", const=False,
                     help="line 1 is data; name the columns with --columns")
    p.add_argument("--columns", default=None, metavar="A,B,C", type=_text,
                   help="the file's column names in order (before --map applies)")
    p.add_argument("--key", choices=("row",), default=None,
                   help="row: derive the key (e.g. transaction_id) from each row's values")
    p.add_argument("--max-reject-share", type=_share, default=None, metavar="SHARE",
                   help="exit 1 if more than this share of rows is rejected (e.g. 0.05)")
    _verbosity(p)

    p = sub.add_parser("status", help="row counts, date ranges, rejects and the latest run")
    _db_arg(p)
    _verbosity(p)

    p = sub.add_parser("rejects", help="list quarantined rows with their reasons")
    _db_arg(p)
    p.add_argument("--table", choices=TABLE_NAMES, default=None)
    p.add_argument("--limit", type=_count, default=50, help="rows to show (default: 50)")
    p.add_argument("--retry", action="store_true",
                   help="re-validate the table's rejects and load those that now pass")
    _verbosity(p)

    p = sub.add_parser("score", help="run the scoring job: CLV, churn, segments, satisfaction")
    _db_arg(p)
    p.add_argument("--as-of", default=None, metavar="DATE", type=_iso_date,
                   help="score as of this date (inclusive), YYYY-MM-DD")
    p.add_argument("--config", default=None, metavar="FILE", type=_input_file,
                   help="TOML config (default: $CRM_ANALYTICS_CONFIG)")
    p.add_argument("--retrain", action="store_true", default=None, help="refit the churn model")
    p.add_argument("--force", action="store_true", default=None,
                   help="recompute even if inputs and options are those of the last run")
    p.add_argument("--dashboard-dir", default=None, metavar="DIR", type=_out_dir,
                   help="publish dashboards there after the run")
    p.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb",
                   help="spark: score Parquet tables (--input) on Apache Spark, write Parquet "
                        "scores by run id (--output); needs the spark extra and Java 17")
    p.add_argument("--input", default=None, metavar="DIR",
                   help="with --engine spark: a folder with <table>.parquet per contract table")
    p.add_argument("--output", default=None, metavar="DIR",
                   help="with --engine spark: where runs go (customer_scores/run_id=<id>/, runs/<id>.json)")
    p.add_argument("--master", default=None, metavar="URL",
                   help="with --engine spark: Spark master (default: spark-submit's, else local[*])")
    p.add_argument("--churn-model", default=None, metavar="FILE", type=_input_file,
                   help="with --engine spark: a churn_model.skops saved by a DuckDB run or `train` "
                        "(without it the Spark run has no churn scores)")
    p.add_argument("--partitions", default=None, type=_int_at_least(1, 100_000), metavar="N",
                   help="with --engine spark: tasks of the per-customer step "
                        "(default: spark.sql.shuffle.partitions)")
    p.add_argument("--needs-fit-fraction", default=None, type=_share, metavar="SHARE",
                   help="with --engine spark: fit the needs segments on this share of the buyers "
                        "(default 1: all; lower it when their features do not fit in the driver)")
    _verbosity(p)

    p = sub.add_parser("train", help="refit and save the churn model without writing a run")
    _db_arg(p)
    p.add_argument("--as-of", default=None, metavar="DATE", type=_iso_date)
    p.add_argument("--config", default=None, metavar="FILE", type=_input_file,
                   help="TOML config (default: $CRM_ANALYTICS_CONFIG)")
    _verbosity(p)

    p = sub.add_parser("forecast", help="revenue forecast by segment and month, with intervals "
                                        "(and its back-test)")
    _db_arg(p)
    p.add_argument("--as-of", default=None, metavar="DATE", type=_iso_date,
                   help="forecast from the day after (default: the latest transaction date)")
    p.add_argument("--horizon", type=_int_at_least(1, 60), default=12, metavar="MONTHS",
                   help="months to forecast (default: 12)")
    p.add_argument("--by", default="size_band", type=_text, metavar="COLUMN",
                   help="segment column: an attribute or a score column (default: size_band); "
                        "'none' for the total only")
    p.add_argument("--segment", default=None, type=_text, metavar="NAME",
                   help="a custom segment against the rest (instead of --by)")
    p.add_argument("--backtest", action="store_true",
                   help="also back-test: the same forecast made --horizon months earlier, "
                        "against what happened and against seasonal naive / ETS baselines")
    p.add_argument("--out", default=None, metavar="FILE", type=_out_file,
                   help="write the full forecast table as CSV")
    p.add_argument("--seed", type=_seed, default=0, help="simulation seed (default: 0)")
    _verbosity(p)

    p = sub.add_parser("runs", help="list scoring runs, newest first")
    _db_arg(p)
    p.add_argument("--limit", type=_count, default=20, help="runs to show (default: 20)")
    _verbosity(p)

    p = sub.add_parser("dashboard", help="write the offline HTML dashboards of a run")
    _db_arg(p)
    p.add_argument("--run", default="latest", type=_text, help="run id (default: latest)")
    p.add_argument("--out", required=True, metavar="DIR", type=_out_dir)
    _verbosity(p)

    p = sub.add_parser("export", help="export segments for a campaign (consent, dedupe, manifest)")
    _db_arg(p)
    p.add_argument("--segment", action="append", required=True, metavar="NAME", type=_text,
                   help="segment name; repeat for several (priority order: each contact once)")
    p.add_argument("--out", required=True, metavar="PATH", type=_out_file)
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.add_argument("--campaign", default=None, type=_text, help="campaign name recorded in the manifest")
    p.add_argument("--channel", choices=("email", "sms", "phone", "mail"), default="email",
                   help="channel of the campaign (contact history, caps, suppressions)")
    p.add_argument("--holdout", default=None, metavar="FRACTION", type=_share,
                   help="control-group share (default: the campaign's in the config, else 0)")
    p.add_argument("--dry-run", action="store_true",
                   help="report what would be exported; write no file and record nothing")
    p.add_argument("--config", default=None, metavar="FILE", type=_input_file,
                   help="TOML config with [contact_policy] (default: $CRM_ANALYTICS_CONFIG)")
    _verbosity(p)

    p = sub.add_parser("campaign-results",
                       help="treatment vs control after a campaign's exports (or list campaigns)")
    _db_arg(p)
    p.add_argument("--campaign", default=None, type=_text,
                   help="campaign name (default: list every campaign with its effect)")
    p.add_argument("--window-days", type=_int_at_least(1, 3650), default=30,
                   help="days after the export in which outcomes count (default: 30)")
    p.add_argument("--as-of", default=None, metavar="DATE", type=_iso_date)
    _verbosity(p)

    p = sub.add_parser("segment", help="define or list custom segments")
    _db_arg(p)
    p.add_argument("action", choices=("define", "list", "delete", "members"))
    p.add_argument("name", nargs="?")
    p.add_argument("rule", nargs="?", help="e.g. \"risk_band = 'high' and clv in top 20%%\"")
    p.add_argument("--description", default="")
    _verbosity(p)

    p = sub.add_parser("demo", help="generate demo data, load it, score it, publish dashboards")
    p.add_argument("--dir", default="demo_output", type=_out_dir,
                   help="folder for the store and outputs")
    p.add_argument("--customers", type=_customers, default=5000)
    p.add_argument("--seed", type=_seed, default=0)
    _verbosity(p)

    _add_customer_parsers(sub)

    p = sub.add_parser("example-config", help="print a documented example crm.toml")
    return parser


def _add_customer_parsers(sub: Any) -> None:
    """``customer`` (the single customer view, search) and ``serve`` (the read-only web app)."""
    p = sub.add_parser("customer", help="show one customer's view (profile, value, churn, tickets, "
                                        "next best action), or find customers")
    p.add_argument("customer_id", nargs="?", default=None, metavar="ID", type=_text,
                   help="the customer's id (or find it with --email, --phone or --name)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--email", type=_text, help="find by e-mail (any case, spaces ignored)")
    how.add_argument("--phone", type=_text, help="find by phone number (any formatting)")
    how.add_argument("--name", type=_text, help="find by name (part of it; case and accents ignored)")
    _db_arg(p)
    p.add_argument("--as-of", default=None, metavar="DATE", type=_iso_date,
                   help="the view as of this date (inclusive), YYYY-MM-DD (default: the latest data)")
    p.add_argument("--limit", type=_int_at_least(1, 1000), default=20,
                   help="most matches listed by a search (default: 20)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    _verbosity(p)

    p = sub.add_parser("serve", help="serve the read-only web app: customer search and card, "
                                     "JSON API, dashboards")
    _db_arg(p)
    p.add_argument("--host", default="127.0.0.1", type=_text,
                   help="address to bind (default: 127.0.0.1); any other needs a token")
    p.add_argument("--port", type=_int_at_least(1, 65535), default=8000, help="default: 8000")
    p.add_argument("--token", default=None, type=_text,
                   help="access token every request must carry (default: $CRM_ANALYTICS_TOKEN; "
                        "prefer the variable: a command line is visible to other users)")
    p.add_argument("--workers", type=_int_at_least(1, 16), default=None,
                   help="worker processes (default: one per core, at most 2)")
    _verbosity(p)


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"{flag} {item!r}: expected NAME=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _store(args: argparse.Namespace, *, read_only: bool = False) -> Any:
    from crm_analytics.store import Store, default_path

    path = args.db or default_path()
    if read_only:
        return Store(path, read_only=True)
    return Store(path)


def _print_frame(frame: pd.DataFrame, *, max_rows: int = 60) -> None:
    with pd.option_context("display.width", 160, "display.max_columns", 30,
                           "display.max_colwidth", 80):
        print(frame.to_string(max_rows=max_rows) if len(frame) else "(none)")


def cmd_init(args: argparse.Namespace) -> int:
    from crm_analytics.store import Store, default_path

    with Store(args.db or default_path(), adopt=args.adopt) as store:
        print(f"store ready: {Path(store.path).resolve() if store.path != ':memory:' else store.path}")
        print("tables: " + ", ".join(t for t in store.tables()))
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    with _store(args) as store:
        report = store.load(
            args.table, args.path, column_map={**_pairs(args.map, "--map")} or None,
            mode=args.mode, date_format=args.date_format, encoding=args.encoding,
            constants=_pairs(args.const, "--const") or None,
            unknown_customers="create" if args.create_customers else "reject",
            delimiter=args.delimiter, header=args.header, column_names=args.columns, key=args.key,
        )
    print(_cli_terms(str(report)))  # one report per load (the store logs it at DEBUG)
    if args.max_reject_share is not None and report.rows_read:
        share = report.rows_rejected / report.rows_read
        if share > args.max_reject_share:
            print(f"error: {share:.1%} of rows rejected, above --max-reject-share "
                  f"{args.max_reject_share:.1%}", file=sys.stderr)
            return 1
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from crm_analytics.store.results import runs

    with _store(args, read_only=True) as store:
        print(f"store: {store.path}")
        _print_frame(store.summary())
        recent = runs(store, limit=1)
    if len(recent):
        r = recent.iloc[0]
        print(f"latest run: {r['run_id']} as of {r['as_of']} — {r['status']} at {r['finished_at']}")
    else:
        print("no scoring run yet (crm-analytics score)")
    return 0


def cmd_rejects(args: argparse.Namespace) -> int:
    with _store(args, read_only=not args.retry) as store:
        if args.retry:
            if not args.table:
                raise UsageError("--retry needs --table")
            print(_cli_terms(str(store.retry_rejects(args.table))))
        rej = store.rejects(args.table)
    print(f"{len(rej):,} quarantined rows")
    rej["reason"] = rej["reason"].map(lambda r: _cli_terms(r) if isinstance(r, str) else r)
    cols = ["table_name", "kind", "reason_code", "source", "source_row", "reason"]
    _print_frame(rej[cols].head(args.limit))
    return 0


def _run_config(args: argparse.Namespace) -> Any:
    from crm_analytics.scoring.config import load_config

    overrides: dict[str, Any] = {}
    if getattr(args, "as_of", None):
        overrides["as_of"] = args.as_of
    if getattr(args, "retrain", None):
        overrides["retrain"] = True
    if getattr(args, "force", None):
        overrides["force"] = True
    if getattr(args, "dashboard_dir", None):
        overrides["dashboard_dir"] = args.dashboard_dir
    return load_config(args.config or os.environ.get("CRM_ANALYTICS_CONFIG") or None, overrides)


def _db_path(args: argparse.Namespace) -> str:
    from crm_analytics.store import default_path

    path = args.db or default_path()
    if not Path(path).exists():
        raise InputError(f"{path}: no store here; create one with `crm-analytics init` and load data")
    return path


def _score_on_spark(args: argparse.Namespace) -> int:
    from importlib.util import find_spec

    if find_spec("pyspark") is None:
        raise InputError("--engine spark needs pyspark: pip install 'crm_analytics[spark]' (and Java 17)")
    if not args.input or not args.output:
        raise InputError("--engine spark needs --input DIR (Parquet tables) and --output DIR (scores)")
    folder = Path(args.input)
    if not (folder / "customers.parquet").exists() and not (folder / "customers" / "_delta_log").is_dir():
        # Checked before starting a JVM.
        raise InputError(f"--input {args.input}: no customers.parquet there; give a folder with "
                         "<table>.parquet (or a Delta table <table>/) per table of the data contract")
    from crm_analytics.spark import engine, run

    spark = engine.spark_session(args.master)
    fraction = 1.0 if args.needs_fit_fraction is None else args.needs_fit_fraction
    result = run.score_run(spark, args.input, args.output, as_of=args.as_of, config=args.config,
                           churn_model=args.churn_model, partitions=args.partitions,
                           needs_fit_fraction=fraction)
    print(f"Spark run {result.run_id} as of {result.as_of}: {result.status}, "
          f"{result.customers:,} customers scored ({', '.join(result.steps)}) -> "
          f"{Path(args.output) / 'customer_scores' / f'run_id={result.run_id}'}")
    for part, why in result.skipped.items():
        print(f"  skipped {part}: {why}")
    for table, n in result.rejected.items():
        print(f"  rejected {n:,} {table} rows (empty required value or wrong type): "
              f"{Path(args.output) / 'rejects' / table / f'run_id={result.run_id}'}")
    if result.message:
        print(f"  note: {result.message}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from crm_analytics.scoring.run import run_batch

    if getattr(args, "engine", "duckdb") == "spark":
        return _score_on_spark(args)
    if getattr(args, "input", None) or getattr(args, "output", None):
        raise InputError("--input and --output go with --engine spark; the DuckDB run reads --db")
    if any(getattr(args, flag, None) is not None for flag in ("churn_model", "partitions",
                                                               "needs_fit_fraction")):
        raise InputError("--churn-model, --partitions and --needs-fit-fraction go with --engine spark; "
                         "the DuckDB run finds its churn model in its model_dir")
    config = _run_config(args)
    result = run_batch(_db_path(args), config=config, progress=None if not args.quiet else False)
    print(result)
    if result.status == "unchanged":
        return 0  # the earlier run's summary is in `crm-analytics runs` / the dashboards
    print()
    print(result.summary())  # model quality, churn population, risk bands, CLV parameters
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from crm_analytics.scoring.run import train_churn_model

    config = _run_config(args)
    print(train_churn_model(_db_path(args), config=config))
    return 0


def cmd_forecast(args: argparse.Namespace) -> int:
    from crm_analytics import clv
    from crm_analytics.scoring.forecast_step import backtest_cutoff
    from crm_analytics.segmentation import segment_members
    from crm_analytics.store import Store
    from crm_analytics.store.asof import default_as_of

    with Store(_db_path(args), read_only=True) as store:
        as_of = dt.date.fromisoformat(args.as_of) if args.as_of else default_as_of(store)
        by: Any = None if args.by.lower() == "none" else args.by
        if args.segment:
            members = segment_members(store, args.segment)
            ids = store.sql("SELECT customer_id FROM customers")["customer_id"].astype(str)
            by = pd.Series("others", index=pd.Index(ids), name=args.segment, dtype=object)
            by.loc[by.index.isin(members)] = args.segment
        table = clv.forecast(store, as_of, args.horizon, by=by, seed=args.seed)
        total = table[table["component"] == "total"]
        print(f"Revenue forecast as of {as_of} ({table.attrs['customers']:,} customers; "
              "intervals: purchase, spend and parameter uncertainty)")
        _print_frame(total[["segment", "month", "expected_revenue", "revenue_lo80", "revenue_hi80",
                            "revenue_lo95", "revenue_hi95"]].round(0), max_rows=200)
        if args.out:
            table.to_csv(args.out, index=False)
            print(f"written: {args.out}")
        if args.backtest:
            if args.segment:
                raise UsageError("--backtest needs --by: a custom segment's members are known as "
                                 "of now only (back-testing by them would use later information)")
            cutoff = backtest_cutoff(as_of, args.horizon).date()
            result = clv.forecast_backtest(store, cutoff, args.horizon, by=by,
                                           actuals_through=as_of, seed=args.seed)
            print()
            print(result.summary())
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from crm_analytics.store.results import runs

    frame = runs(_db_path(args), limit=args.limit)
    _print_frame(frame[["run_id", "as_of", "status", "started_at", "finished_at", "customers",
                        "message"]])
    return 0


def _publish(db: str, run: str, out: str) -> Path:
    from crm_analytics.dashboards import write_dashboards

    return write_dashboards(db, out, run_id=None if run == "latest" else run)


def cmd_dashboard(args: argparse.Namespace) -> int:
    index = _publish(_db_path(args), args.run, args.out)
    print(f"dashboards written: {index}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from crm_analytics.campaigns import load_contact_policy
    from crm_analytics.exports import export_segment
    from crm_analytics.store import Store

    policy = load_contact_policy(args.config)
    # A dry run only reads; a real export records its contacts in the store.
    with Store(_db_path(args), read_only=args.dry_run) as store:
        report = export_segment(store, args.segment if len(args.segment) > 1 else args.segment[0],
                                args.out, format=args.format, campaign=args.campaign,
                                channel=args.channel, policy=policy,
                                holdout_fraction=args.holdout, dry_run=args.dry_run)
    print(report)
    return 0


def cmd_campaign_results(args: argparse.Namespace) -> int:
    from crm_analytics.campaigns import campaign_overview, campaign_results

    with _store(args, read_only=True) as store:
        if args.campaign is None:
            overview = campaign_overview(store, args.window_days, as_of=args.as_of)
            print(overview.to_string(index=False) if not overview.empty
                  else "no campaign in the contact history yet")
        else:
            print(campaign_results(store, args.campaign, args.window_days, as_of=args.as_of))
    return 0


def cmd_segment(args: argparse.Namespace) -> int:
    from crm_analytics import segmentation
    from crm_analytics.store import Store

    if args.action in ("define", "delete", "members") and not (args.name or "").strip():
        raise UsageError(f"segment {args.action} needs NAME")
    if args.action != "define" and args.rule is not None:
        raise UsageError(f"segment {args.action} takes no RULE; got {args.rule!r}")
    if args.action == "define":
        if not (args.rule or "").strip():
            raise UsageError("segment define needs NAME and RULE, e.g. "
                             "segment define vip \"clv in top 10%\"")
        with Store(_db_path(args)) as store:
            segmentation.define_segment(store, args.name, args.rule, description=args.description)
        print(f"segment {args.name!r} saved")
    elif args.action == "delete":
        with Store(_db_path(args)) as store:
            found = segmentation.delete_segment(store, args.name)
        if not found:
            raise InputError(f"segment {args.name!r} does not exist; nothing deleted "
                             "(see `crm-analytics segment list`)")
        print(f"segment {args.name!r} deleted")
    elif args.action == "members":
        with _store(args, read_only=True) as store:
            members = segmentation.segment_members(store, args.name)
        print("\n".join(map(str, members)))
    else:
        with _store(args, read_only=True) as store:
            _print_frame(segmentation.list_segments(store))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from crm_analytics.demo import run_demo

    if not args.verbose:  # the demo narrates its own steps
        logging.getLogger("crm_analytics").setLevel(logging.WARNING)
        for name in ("crm_analytics.scoring.run", "crm_analytics.store", "crm_analytics.dashboards"):
            logging.getLogger(name).setLevel(logging.WARNING)

    run_demo(args.dir, n_customers=args.customers, seed=args.seed)
    return 0


#: What a search finds when it found the one customer asked for (several rows may match).
_SURE_MATCHES = ("exact", "same number")


def cmd_customer(args: argparse.Namespace) -> int:
    import json

    from crm_analytics.customers import customer_view, find_customers
    from crm_analytics.store.results import reading

    searches = [(by, getattr(args, by)) for by in ("email", "phone", "name") if getattr(args, by)]
    if (args.customer_id is None) == (not searches):
        raise UsageError("customer needs an ID or one of --email, --phone, --name (not both)")
    with reading(_db_path(args)) as store:
        if args.customer_id is not None:
            view = customer_view(store, args.customer_id, args.as_of)
        else:
            by, query = searches[0]
            found = find_customers(store, query, limit=args.limit, by=by)
            if found.empty:
                raise InputError(f"no customer matches --{by} {query!r}")
            sure = found[found["match"].isin(_SURE_MATCHES)] if by != "name" else found.iloc[:0]
            if len(found) > 1 and len(sure) != 1:
                if args.json:
                    rows = json.loads(found.reset_index().to_json(orient="records", date_format="iso"))
                    print(json.dumps({"query": query, "by": by, "matches": rows}, indent=2,
                                     ensure_ascii=False))
                else:
                    print(f"{len(found)} customers match --{by} {query!r}; show one with "
                          "`crm-analytics customer ID`")
                    _print_frame(found[["name", "email", "phone", "customer_type", "region", "match"]])
                return 0
            view = customer_view(store, (sure if len(sure) == 1 else found).index[0], args.as_of)
    print(json.dumps(view.to_dict(), indent=2, ensure_ascii=False) if args.json else view)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from crm_analytics.web import ENV_TOKEN, check_bind, serve

    token = args.token if args.token is not None else (os.environ.get(ENV_TOKEN) or None)
    check_bind(args.host, token)
    path = _db_path(args)
    serve(path, host=args.host, port=args.port, token=token, workers=args.workers,
          log_level="debug" if args.verbose else "warning",
          ready=lambda url: print(f"serving {url} (read-only: {path}); Ctrl-C stops", flush=True))
    return 0


def cmd_example_config(args: argparse.Namespace) -> int:
    from crm_analytics.scoring.config import EXAMPLE_TOML

    print(EXAMPLE_TOML, end="")
    return 0


COMMANDS = {
    "init": cmd_init, "load": cmd_load, "status": cmd_status, "rejects": cmd_rejects,
    "score": cmd_score, "train": cmd_train, "runs": cmd_runs, "dashboard": cmd_dashboard,
    "forecast": cmd_forecast,
    "export": cmd_export, "segment": cmd_segment, "demo": cmd_demo,
    "campaign-results": cmd_campaign_results,
    "example-config": cmd_example_config,
    "customer": cmd_customer, "serve": cmd_serve,
}


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.INFO
    if getattr(args, "quiet", False):
        level = logging.WARNING
    elif getattr(args, "verbose", False):
        level = logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # By default a scheduler's log gets the run's progress lines, not every model's
    # convergence notes; --verbose shows everything.
    logging.getLogger("crm_analytics").setLevel(level if level != logging.INFO else logging.WARNING)
    for name in ("crm_analytics.scoring.run", "crm_analytics.cli", "crm_analytics.store",
                 "crm_analytics.scoring.models", "crm_analytics.dashboards"):
        logging.getLogger(name).setLevel(level)


def _one_line(exc: BaseException) -> str:
    """The first line of an error's message (rule errors add a caret drawing below it)."""
    lines = str(exc).strip().splitlines()
    return _cli_terms(lines[0]) if lines else type(exc).__name__


def _map_flags(match: re.Match[str]) -> str:
    pairs = re.findall(r"'([^']*)': '([^']*)'", match.group(0))
    flags = " ".join(f"--map '{src}={dst}'" for src, dst in pairs) or "--map 'SOURCE=CANONICAL'"
    return f"{flags} (Python: {match.group(0)})"


#: Advice written for Python callers, and what a command-line user types instead.
_CLI_TERMS: tuple[tuple[re.Pattern[str], Any], ...] = (
    (re.compile(r"store\.rejects\('(\w+)'\)"), r"`crm-analytics rejects --table \1`"),
    (re.compile(r"store\.retry_rejects\('(\w+)'\)"), r"`crm-analytics rejects --table \1 --retry`"),
    (re.compile(r"\(unknown_customers='create'\)"), "(--create-customers)"),
    (re.compile(r"\bunknown_customers='create'"), "--create-customers (Python: unknown_customers='create')"),
    (re.compile(r"\bcolumn_map=\{[^{}]*\}"), _map_flags),
    (re.compile(r"\bencoding='([\w-]+)'"), r"--encoding \1 (Python: encoding='\1')"),
    (re.compile(r"\bpass encoding=(?!')"), "pass --encoding ENCODING; Python: encoding="),
    (re.compile(r"\bpass date_format=(?!')"), "pass --date-format FMT; Python: date_format="),
)


def _cli_terms(text: str) -> str:
    """A message for the command line: Python-call advice gets its command-line form.

    >>> print(_cli_terms("reasons: bad_date 1  (see store.rejects('transactions'))"))
    reasons: bad_date 1  (see `crm-analytics rejects --table transactions`)
    >>> print(_cli_terms("x.csv: is UTF-16; pass encoding='utf-16' or re-save as UTF-8"))
    x.csv: is UTF-16; pass --encoding utf-16 (Python: encoding='utf-16') or re-save as UTF-8
    >>> print(_cli_terms("Rename it or pass column_map={'<yours>': 'customer_id'}"))
    Rename it or pass --map '<yours>=customer_id' (Python: column_map={'<yours>': 'customer_id'})
    """
    for pattern, replacement in _CLI_TERMS:
        text = pattern.sub(replacement, text)
    return text


def _os_error_line(exc: OSError) -> str:
    """One line for an OS error on a user-given path: the path, the problem, the fix."""
    name = exc.filename if exc.filename is not None else "a file"
    fixes = {
        errno.ENOENT: "check the path and the working directory",
        errno.EISDIR: "give a file, not a folder",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EEXIST: "a file of that name is in the way; give another path",
        errno.EACCES: "check the permissions",
        errno.EPERM: "check the permissions",
        errno.ENOSPC: "free some disk space",
        errno.EROFS: "give a path on a writable disk",
    }
    fix = fixes.get(exc.errno or 0, "check the path")
    return f"{name}: {exc.strerror or exc}; {fix}"


#: OS errors that mean "this path (given by the user) cannot be used": input errors, exit 2.
_PATH_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, FileExistsError,
                PermissionError)


def _quiet_broken_pipe() -> int:
    """stdout was closed early (``crm-analytics rejects | head -1``): stop quietly."""
    try:  # point stdout at devnull so the interpreter's final flush does not complain
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (e.g. captured in tests)
        pass
    return 141  # 128 + SIGPIPE, like a command killed by the closed pipe


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``crm-analytics``; returns the exit code.

    Examples
    --------
    >>> main(["load", "customers", "/nonexistent/customers.csv", "--db", ":memory:"])
    2
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args)
    verbose = getattr(args, "verbose", False)
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
        return code
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except InputError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        if verbose:
            log.exception("details")
        return 2
    except (RunError, StoreBusyError) as exc:
        print(f"failed: {_one_line(exc)}", file=sys.stderr)
        if verbose:
            log.exception("details")
        return 1
    except CRMError as exc:
        print(f"failed: {_one_line(exc)}", file=sys.stderr)
        if verbose:
            log.exception("details")
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except _PATH_ERRORS as exc:  # a path the user gave cannot be used: an input error
        print(f"error: {_os_error_line(exc)}", file=sys.stderr)
        if verbose:
            log.exception("details")
        return 2
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        print(f"error: an input file is truncated or is damaged compressed data ({exc}); "
              "re-create or re-download it", file=sys.stderr)
        if verbose:
            log.exception("details")
        return 2
    except Exception as exc:  # never a bare traceback for a scheduler's log
        print(f"failed: unexpected {type(exc).__name__}: {_one_line(exc)} "
              "(run with --verbose for details)", file=sys.stderr)
        if verbose:
            log.exception("details")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
