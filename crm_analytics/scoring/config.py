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
import datetime as dt
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_analytics.core.tomlfile import read_toml
from crm_analytics.errors import InputError
from crm_analytics.store.attributes import DEFAULT_THRESHOLDS, SizeThresholds

ENV_PREFIX = "CRM_ANALYTICS_"

#: The steps of a run, in the order they run (the functions: :data:`crm_analytics.scoring.steps.STEPS`).
STEP_NAMES = ("inputs", "attributes", "clv", "churn", "satisfaction", "segments", "forecast",
              "subscriptions")
#: Steps every run includes, whatever ``steps`` says: the others build on them.
BASE_STEPS = ("inputs", "attributes")


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
    churn_active_days : int or str
        Only customers with a purchase in this many days before as_of are scored.
        ``auto`` (the default): four times the customers' median gap between
        purchase days, rounded up to whole 30 days, at least twice the churn
        horizon and at most 730 days (see
        :func:`crm_analytics.scoring.models.auto_active_days`).
    churn_fallback_margin : float
        The churn model scores only when its back-test ROC AUC beats the best
        baseline's by at least this much; otherwise the run scores with that
        baseline and says so.
    churn_training_months : int
        Number of monthly training cutoffs (ending ``churn_horizon_days`` before as_of).
    churn_max_examples : int
        Training examples per cutoff, and customers in the back-test, at most
        (default 25,000). Above it the churn model learns from a uniform,
        seeded sample of the customers, cut per cutoff by a stratified draw
        that keeps the churn rate (see :func:`crm_analytics.churn.training_set`);
        so training memory and time do not grow with the store. Scoring always
        covers every active customer.
    model_dir : str
        Folder of the saved churn model. Empty: ``models/<store_id>/`` beside the
        store file (``store_id``: a random id the store records once in
        ``store_meta``), or a temporary folder of its own for a ``:memory:``
        store. A model file names the store it was trained on; a run on another
        store refits instead of using it.
    model_max_age_days : int
        A saved model older than this is refit automatically.
    retrain : bool
        Refit the churn model in this run whatever its age.
    force : bool
        Compute even when the inputs and options are those of the latest
        successful run with the same as_of (otherwise such a run is recognised,
        recorded as ``unchanged`` and not recomputed; see
        :mod:`crm_analytics.scoring.unchanged`).
    needs_segments : str
        Number of needs segments, or ``auto``.
    large_employees, large_revenue : float
        Size band thresholds: a business customer is large from either on.
    min_n : int
        Smallest survey sample shown as a number (NPS, CSAT, satisfaction index).
    nps_item : str
        Survey item (``survey_responses.item``) of the 0-10 recommendation question.
    csat_item : str
        Survey item of the CSAT question.
    keep_runs : int
        Successful runs whose customer scores are kept (older ones are pruned).
    dashboard_dir : str
        If set, dashboards are written there after each successful run.
    currency : str
        Currency of the amounts in the store (``EUR`` by default; an ISO 4217
        code such as ``USD``), shown with every money value on the dashboards.
        Stored with the run, so an old run's dashboard keeps its currency.
    busy_timeout : float
        Seconds to wait for the store while another process writes it.
    memory_limit : str
        DuckDB memory limit for the run, e.g. ``2GB`` (empty: the store's default, a
        quarter of RAM between 1 and 8 GB).
    threads : int
        One thread count for DuckDB, OpenMP (scikit-learn) and BLAS during the
        run (0: the free cores, see :func:`crm_analytics.core.threads.default_threads`).
    steps : list of str
        The steps to run, from ``inputs, attributes, clv, churn, satisfaction,
        segments, forecast, subscriptions`` (default: all); ``inputs`` and ``attributes`` always run. An
        unknown name is an error.
    forecast_horizon_months : int
        Months of the revenue forecast (:func:`crm_analytics.clv.forecast`) the
        run writes to its results, 1 to 60.
    forecast_by : str
        Segments of the forecast: a customer attribute (``size_band``), a score
        column of the run (``value_tier``), ``segment:<name>`` for a custom segment
        against the rest, or empty for the total only.
    forecast_backtest : bool
        Also back-test the forecast: made ``forecast_horizon_months`` before
        as_of and compared with what followed, next to the time-series baselines.
    seed : int
        Seed for every random choice (deterministic runs).
    """

    as_of: str = ""
    clv_horizon_days: int = 365
    annual_discount_rate: float = 0.10
    purchase_model: str = "bgnbd"
    churn_horizon_days: int = 90
    churn_active_days: int | str = "auto"
    churn_fallback_margin: float = 0.005
    churn_training_months: int = 12
    churn_max_examples: int = 25_000
    model_dir: str = ""
    model_max_age_days: int = 30
    retrain: bool = False
    force: bool = False
    needs_segments: str = "auto"
    large_employees: float = DEFAULT_THRESHOLDS.large_employees
    large_revenue: float = DEFAULT_THRESHOLDS.large_revenue
    min_n: int = 30
    nps_item: str = "nps"
    csat_item: str = "csat"
    keep_runs: int = 30
    dashboard_dir: str = ""
    currency: str = "EUR"
    busy_timeout: float = 300.0
    memory_limit: str = ""
    threads: int = 0
    steps: list[str] = field(default_factory=lambda: list(STEP_NAMES))
    seed: int = 0
    forecast_horizon_months: int = 12
    forecast_by: str = "size_band"
    forecast_backtest: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def size_thresholds(self) -> SizeThresholds:
        """The size-band thresholds of this run (:class:`~crm_analytics.store.SizeThresholds`)."""
        return SizeThresholds(self.large_employees, self.large_revenue)


#: Allowed values of the numeric options, inclusive: (low, high, what the number counts).
#: The upper bounds refuse values that would make a run hang or exhaust memory rather
#: than fail: a CLV horizon of 10 years (3650 days) is already beyond what a purchase
#: model extrapolates sensibly; a churn horizon beyond 2 years (730 days) leaves no
#: labelled history; more than 256 threads (or a memory limit under 64 MB) makes DuckDB,
#: OpenMP and BLAS thrash. ``seed`` is what NumPy accepts: 0 to 2**32 - 1.
INT_RANGES: dict[str, tuple[int, int, str]] = {
    "clv_horizon_days": (1, 3650, "a whole number of days"),
    "churn_horizon_days": (1, 730, "a whole number of days"),
    "churn_active_days": (1, 3650, "a whole number of days"),  # or "auto"
    "churn_training_months": (1, 60, "a whole number of months"),
    "churn_max_examples": (100, 10_000_000, "a whole number of examples"),
    "model_max_age_days": (0, 3650, "a whole number of days"),
    "min_n": (1, 1_000_000, "a whole number of responses"),
    "keep_runs": (1, 10_000, "a whole number of runs"),
    "threads": (0, 256, "a whole number of threads (0: the free cores)"),
    "seed": (0, 2**32 - 1, "a whole number"),
    "forecast_horizon_months": (1, 60, "a whole number of months"),
}
#: Float options: (low, high, high is included, description); all must be finite.
FLOAT_RANGES: dict[str, tuple[float, float, bool, str]] = {
    "annual_discount_rate": (0.0, 1.0, False, "a rate"),
    "busy_timeout": (0.0, 86_400.0, True, "a number of seconds"),
    "churn_fallback_margin": (0.0, 0.5, True, "an ROC AUC margin"),
}
#: Float options that must be positive and finite (no upper bound).
POSITIVE_FLOATS = ("large_employees", "large_revenue")
#: Needs segments: ``auto`` or a count in this range.
NEEDS_SEGMENTS_RANGE = (2, 50)
#: Smallest DuckDB memory limit accepted (64 MB): below it even a small run fails.
MIN_MEMORY_BYTES = 64 * 10**6
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _rule(name: str) -> str:
    """What option ``name`` must be, in the words of the error messages."""
    if name in INT_RANGES:
        low, high, what = INT_RANGES[name]
        auto = " or 'auto'" if name == "churn_active_days" else ""
        return f"{what} in [{low}, {high}]{auto}"
    if name in FLOAT_RANGES:
        low, high, closed, what = FLOAT_RANGES[name]
        return f"{what} in [{low:g}, {high:g}{']' if closed else ')'}"
    if name in POSITIVE_FLOATS:
        return "a positive number"
    return "valid"


def _bad(name: str, value: Any, rule: str | None = None) -> InputError:
    return InputError(f"config option {name} must be {rule or _rule(name)}; got {value!r}")


def _coerce(name: str, value: Any, target: type | str) -> Any:
    """``value`` as the type of option ``name``; a value that is not one is an InputError."""
    kind = target if isinstance(target, str) else target.__name__
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if isinstance(value, (str, int)) else None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise _bad(name, value, "true or false")
    if kind == "int":
        try:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError
            number = float(value)
            if not math.isfinite(number) or number != int(number):
                raise ValueError
            return int(number)
        except (TypeError, ValueError, OverflowError):
            raise _bad(name, value) from None
    if kind == "float":
        try:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise _bad(name, value) from None
        if not math.isfinite(number):
            raise _bad(name, value)
        return value if isinstance(value, int) else number  # 250 stays 250
    if kind.startswith("list"):
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return [v.strip() for v in value]
        raise _bad(name, value, "a list of names such as ['inputs', 'clv'] (or 'inputs,clv')")
    if name == "as_of" and isinstance(value, dt.date):  # TOML `as_of = 2024-12-31`, a date
        return (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    if name == "needs_segments" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if name == "churn_active_days":
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        return _coerce(name, value, "int")
    if not isinstance(value, str):
        raise _bad(name, value, "text")
    text = value.strip()
    return text.lower() if name == "needs_segments" else text


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
        data = read_toml(path)
        data = data.get("crm_analytics", data)
        if not isinstance(data, dict):
            raise InputError(f"{p}: [crm_analytics] must be a table of options, e.g. "
                             "[crm_analytics] then clv_horizon_days = 365")
        for key, value in data.items():
            if key == "contact_policy":  # the exports' table (crm_analytics.campaigns.policy)
                continue
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
             "needs_segments": "str", "purchase_model": "str", "steps": "list", "retrain": "bool",
             "nps_item": "str", "csat_item": "str",
             "large_employees": "float", "large_revenue": "float", "busy_timeout": "float",
             "churn_active_days": "active_days", "churn_fallback_margin": "float",
             "forecast_by": "str", "forecast_backtest": "bool"}
    out = {}
    for key, value in values.items():
        default = getattr(RunConfig(), key)
        kind = kinds.get(key) or type(default).__name__
        out[key] = _coerce(key, value, kind)
    config = RunConfig(**out)
    validate_config(config)
    return config


def _memory_bytes(text: str) -> float | None:
    match = _MEMORY.match(text)
    if not match:
        return None
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def _check_folder(name: str, value: str) -> None:
    """A folder option may name a folder that exists or can be created, not a file."""
    if not value:
        return
    path = Path(value)
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                where = "is a file" if part == path else f"is under {part}, which is a file"
                raise InputError(f"config option {name} must be a folder; {value!r} {where}")
            return


def _check_forecast_by(value: Any) -> None:
    """``forecast_by``: empty, a segment column of the forecast, or ``segment:<name>``."""
    from crm_analytics.clv.revenue_forecast import segment_columns

    if not isinstance(value, str):
        raise _bad("forecast_by", value, "text")
    if value == "" or value.startswith("segment:") and value[len("segment:"):].strip():
        return
    if value not in segment_columns():
        raise _bad("forecast_by", value, f"empty, 'segment:<custom segment>' or one of "
                                         f"{', '.join(segment_columns())}")


def validate_config(c: RunConfig) -> None:
    """Range-check every option; raise :class:`InputError` naming the first bad one.

    The ranges are :data:`INT_RANGES`, :data:`FLOAT_RANGES`, :data:`POSITIVE_FLOATS`,
    :data:`NEEDS_SEGMENTS_RANGE` and :data:`MIN_MEMORY_BYTES`; ``as_of`` is empty or
    YYYY-MM-DD; ``model_dir`` and ``dashboard_dir`` must not name a file;
    ``nps_item`` and ``csat_item`` are non-empty text.

    Examples
    --------
    >>> try:
    ...     validate_config(RunConfig(clv_horizon_days=1_000_000))
    ... except InputError as exc:
    ...     print(exc)
    config option clv_horizon_days must be a whole number of days in [1, 3650]; got 1000000
    """
    # The one list of purchase models is the CLV package's (imported here, not at
    # module level, so reading a config stays light).
    from crm_analytics.clv.models import PURCHASE_MODELS

    for name, (low, high, _) in INT_RANGES.items():
        value = getattr(c, name)
        if name == "churn_active_days" and value == "auto":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _bad(name, value)
    for name, (low, high, closed, _) in FLOAT_RANGES.items():
        value = getattr(c, name)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
            low <= value <= high if closed else low <= value < high)
        if not ok:  # nan fails every comparison
            raise _bad(name, value)
    for name in POSITIVE_FLOATS:
        value = getattr(c, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                math.isfinite(value) and value > 0):
            raise _bad(name, value)
    purchase_models = list(PURCHASE_MODELS)
    if c.purchase_model not in purchase_models:
        raise _bad("purchase_model", c.purchase_model, f"one of {', '.join(purchase_models)}")
    low, high = NEEDS_SEGMENTS_RANGE
    n = c.needs_segments
    if not (n == "auto" or (isinstance(n, str) and n.isdigit() and low <= int(n) <= high)):
        raise _bad("needs_segments", n, f"'auto' or a whole number in [{low}, {high}]")
    if c.as_of:
        try:
            if not (isinstance(c.as_of, str) and _DATE.match(c.as_of)):
                raise ValueError
            dt.date.fromisoformat(c.as_of)
        except ValueError:
            raise _bad("as_of", c.as_of, "empty or a date written YYYY-MM-DD") from None
    if c.memory_limit:
        size = _memory_bytes(c.memory_limit)
        if size is None or size < MIN_MEMORY_BYTES:
            raise _bad("memory_limit", c.memory_limit,
                       "empty (the default) or a size of at least 64MB such as '512MB' or '2GB'")
    for name in ("nps_item", "csat_item"):
        value = getattr(c, name)
        if not isinstance(value, str) or not value.strip():
            raise _bad(name, value, "the name of a survey item, such as 'nps'")
    if not isinstance(c.currency, str) or not 1 <= len(c.currency.strip()) <= 8:
        raise _bad("currency", c.currency, "a currency code such as 'EUR' or 'USD'")
    _check_forecast_by(c.forecast_by)
    _check_folder("model_dir", c.model_dir)
    _check_folder("dashboard_dir", c.dashboard_dir)
    unknown = [s for s in c.steps if s not in STEP_NAMES]
    if unknown:
        raise InputError(f"config option steps: unknown step(s) {unknown}; steps are: "
                         f"{', '.join(STEP_NAMES)}")


EXAMPLE_TOML = """\
# crm.toml — options of `crm-analytics score`. Every key can also be set as an
# environment variable CRM_ANALYTICS_<KEY>, e.g. CRM_ANALYTICS_AS_OF=2025-12-31.
as_of = ""                    # empty: the latest transaction date in the store
clv_horizon_days = 365
annual_discount_rate = 0.10
purchase_model = "bgnbd"      # bgnbd | pareto_nbd | mbgnbd
churn_horizon_days = 90
churn_active_days = "auto"     # auto: 4x the median gap between purchase days, 2x horizon..730
churn_fallback_margin = 0.005 # the model must beat the best baseline's back-test AUC by this
churn_training_months = 12
churn_max_examples = 25000    # training examples per cutoff, at most (a stratified customer sample)
model_dir = ""                # empty: models/<store_id>/ beside the store file
model_max_age_days = 30
retrain = false
force = false                 # true: recompute even if inputs and options are unchanged
needs_segments = "auto"
large_employees = 250
large_revenue = 50000000
min_n = 30
nps_item = "nps"              # survey item of the 0-10 recommendation question
csat_item = "csat"            # survey item of the CSAT question
keep_runs = 30
dashboard_dir = ""            # set to publish dashboards after every run
currency = "EUR"              # ISO 4217 code of the amounts, shown on the dashboards
busy_timeout = 300
memory_limit = ""             # e.g. "2GB"; empty: a quarter of RAM, 1-8 GB
threads = 0                   # 0: the free cores; one count for DuckDB, OpenMP and BLAS
forecast_horizon_months = 12  # months of the revenue forecast in the run's results
forecast_by = "size_band"     # segments: an attribute, a score column, "segment:<name>" or ""
forecast_backtest = true      # also back-test it against seasonal naive / ETS baselines
"""
