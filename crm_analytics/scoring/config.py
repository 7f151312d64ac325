"""Run configuration: defaults, a TOML file, environment variables — in that order.

Every option can be set three ways; later ones win:

1. the defaults below,
2. a TOML file (``crm-analytics score --config crm.toml``), keys at top level,
3. environment variables ``CRM_ANALYTICS_<KEY>`` (e.g. ``CRM_ANALYTICS_AS_OF``),

and finally explicit arguments (``run_batch(config={...})`` or CLI flags).
An unknown key or a value of the wrong type is a one-line error naming it.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_analytics.errors import InputError

ENV_PREFIX = "CRM_ANALYTICS_"


@dataclass
class RunConfig:
    """Options of a scoring run (``crm-analytics score``, :func:`crm_analytics.run_batch`).

    Attributes
    ----------
    as_of : str
        Date the run scores as of (inclusive). Empty: the date of the latest
        transaction in the store (never later than today).
    clv_horizon_days : int
        Horizon of the CLV and expected purchases.
    annual_discount_rate : float
        Annual rate used to discount future revenue in the CLV.
    purchase_model : str
        ``bgnbd``, ``pareto_nbd`` or ``mbgnbd``.
    churn_horizon_days : int
        A customer churns if they make no purchase in this many days after as_of.
    churn_active_days : int
        Only customers with a purchase in this many days before as_of are scored.
    churn_training_months : int
        Number of monthly training cutoffs (ending ``churn_horizon_days`` before as_of).
    model_dir : str
        Folder of the saved churn model. Empty: ``models/`` beside the store file.
    model_max_age_days : int
        A saved model older than this is refit automatically.
    retrain : bool
        Refit the churn model in this run whatever its age.
    needs_segments : str
        Number of needs segments, or ``auto``.
    large_employees, large_revenue : float
        Size band thresholds: a business customer is large from either on.
    min_n : int
        Smallest survey sample shown as a number (NPS, CSAT, satisfaction index).
    keep_runs : int
        Successful runs whose customer scores are kept (older ones are pruned).
    dashboard_dir : str
        If set, dashboards are written there after each successful run.
    busy_timeout : float
        Seconds to wait for the store while another process writes it.
    memory_limit : str
        DuckDB memory limit for the run, e.g. ``2GB`` (empty: the store's default, a
        quarter of RAM between 1 and 8 GB).
    threads : int
        DuckDB threads for the run (0: all cores).
    steps : list of str
        The steps to run (default: all available).
    seed : int
        Seed for every random choice (deterministic runs).
    """

    as_of: str = ""
    clv_horizon_days: int = 365
    annual_discount_rate: float = 0.10
    purchase_model: str = "bgnbd"
    churn_horizon_days: int = 90
    churn_active_days: int = 365
    churn_training_months: int = 12
    model_dir: str = ""
    model_max_age_days: int = 30
    retrain: bool = False
    needs_segments: str = "auto"
    large_employees: float = 250
    large_revenue: float = 50_000_000.0
    min_n: int = 30
    keep_runs: int = 30
    dashboard_dir: str = ""
    busy_timeout: float = 300.0
    memory_limit: str = ""
    threads: int = 0
    steps: list[str] = field(
        default_factory=lambda: ["inputs", "attributes", "clv", "churn", "satisfaction", "segments"]
    )
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(name: str, value: Any, target: type | str) -> Any:
    kind = target if isinstance(target, str) else target.__name__
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError
        if kind == "int":
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError
            return int(float(value))
        if kind == "float":
            return float(value)
        if kind.startswith("list"):
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            return [str(v) for v in value]
        return str(value)
    except (TypeError, ValueError):
        raise InputError(f"config option {name}: {value!r} is not a valid {kind}") from None


def load_config(
    path: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None,
    *, environ: dict[str, str] | None = None,
) -> RunConfig:
    """Build a :class:`RunConfig` from defaults, a TOML file, the environment and overrides.

    Examples
    --------
    >>> load_config(overrides={"churn_horizon_days": "60"}, environ={}).churn_horizon_days
    60
    >>> load_config(environ={"CRM_ANALYTICS_RETRAIN": "yes"}).retrain
    True
    """
    fields = {f.name: f.type for f in dataclasses.fields(RunConfig)}
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise InputError(f"{p}: config file not found")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{p}: not valid TOML ({exc})") from None
        data = data.get("crm_analytics", data)
        for key, value in data.items():
            if key not in fields:
                raise InputError(
                    f"{p}: unknown option {key!r}; options are: {', '.join(sorted(fields))}"
                )
            values[key] = value
    env = os.environ if environ is None else environ
    for key in fields:
        name = ENV_PREFIX + key.upper()
        if name in env:
            values[key] = env[name]
    for key, value in (overrides or {}).items():
        if key not in fields:
            raise InputError(f"unknown option {key!r}; options are: {', '.join(sorted(fields))}")
        if value is not None:
            values[key] = value
    kinds = {"as_of": "str", "model_dir": "str", "memory_limit": "str", "dashboard_dir": "str",
             "needs_segments": "str", "purchase_model": "str", "steps": "list", "retrain": "bool"}
    out = {}
    for key, value in values.items():
        default = getattr(RunConfig(), key)
        kind = kinds.get(key) or type(default).__name__
        out[key] = _coerce(key, value, kind)
    config = RunConfig(**out)
    _validate(config)
    return config


def _validate(c: RunConfig) -> None:
    checks = [
        ("clv_horizon_days", c.clv_horizon_days > 0, "a positive number of days"),
        ("churn_horizon_days", c.churn_horizon_days > 0, "a positive number of days"),
        ("churn_active_days", c.churn_active_days > 0, "a positive number of days"),
        ("churn_training_months", c.churn_training_months >= 1, "at least 1"),
        ("annual_discount_rate", 0 <= c.annual_discount_rate < 1, "in [0, 1)"),
        ("purchase_model", c.purchase_model in ("bgnbd", "pareto_nbd", "mbgnbd"),
         "one of bgnbd, pareto_nbd, mbgnbd"),
        ("min_n", c.min_n >= 1, "at least 1"),
        ("keep_runs", c.keep_runs >= 1, "at least 1"),
        ("threads", c.threads >= 0, "0 (all cores) or more"),
        ("model_max_age_days", c.model_max_age_days >= 0, "0 or more"),
        ("needs_segments", c.needs_segments == "auto" or c.needs_segments.isdigit(),
         "'auto' or a whole number"),
    ]
    for name, ok, rule in checks:
        if not ok:
            raise InputError(f"config option {name} must be {rule}; got {getattr(c, name)!r}")
    known = set(RunConfig().steps)
    unknown = [s for s in c.steps if s not in known]
    if unknown:
        raise InputError(f"config option steps: unknown step(s) {unknown}; steps are: {sorted(known)}")


EXAMPLE_TOML = """\
# crm.toml — options of `crm-analytics score`. Every key can also be set as an
# environment variable CRM_ANALYTICS_<KEY>, e.g. CRM_ANALYTICS_AS_OF=2025-12-31.
as_of = ""                    # empty: the latest transaction date in the store
clv_horizon_days = 365
annual_discount_rate = 0.10
purchase_model = "bgnbd"      # bgnbd | pareto_nbd | mbgnbd
churn_horizon_days = 90
churn_active_days = 365
churn_training_months = 12
model_dir = ""                # empty: models/ beside the store file
model_max_age_days = 30
retrain = false
needs_segments = "auto"
large_employees = 250
large_revenue = 50000000
min_n = 30
keep_runs = 30
dashboard_dir = ""            # set to publish dashboards after every run
busy_timeout = 300
memory_limit = ""             # e.g. "2GB"; empty: a quarter of RAM, 1-8 GB
threads = 0                   # 0: all cores
"""
