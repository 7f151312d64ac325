"""The contact policy: frequency caps, quiet period, campaign cooldown, holdout split.

A :class:`ContactPolicy` is plain data. It comes from the ``[contact_policy]``
table of the TOML config (:func:`load_contact_policy`; the same file as the
scoring options, ``crm-analytics export --config crm.toml``), from a dict, or
is built in Python::

    [contact_policy]
    quiet_days = 1                   # after any contact, nothing for 1 day
    campaign_cooldown_days = 14      # the same campaign reaches a customer at most every 14 days
    suppress_open_complaints = true  # no marketing while a complaint ticket is open
    caps = [
      { channel = "email", max_contacts = 2, days = 7 },   # at most 2 e-mails in 7 days
      { channel = "any", max_contacts = 4, days = 30 },    # at most 4 contacts in 30 days
      { channel = "any", max_contacts = 1, days = 1 },     # at most one a day
    ]

    [contact_policy.campaigns.spring_sale]
    holdout_fraction = 0.1           # 10% control group, recorded but not contacted
    cooldown_days = 30               # overrides campaign_cooldown_days for this campaign

Windows are rolling and end at the moment of the export: a cap
``max_contacts = 2, days = 7`` skips a customer who already received 2
contacts of that channel (``any``: of every channel) in the 7 x 24 hours before
it. Only contacts that were sent count (control-group rows do not).

The control group
-----------------
A customer is in the control group of a campaign when

    ``(int(sha256(campaign + "\\x1f" + customer_id).hexdigest()[:16], 16) >> 11) / 2**53 < holdout_fraction``

(UTF-8 bytes; ``\\x1f`` is the unit separator, so ``("ab", "c")`` and ``("a", "bc")``
differ; the top 53 bits of the first 64 make a double exactly, so the draw is
below 1). The draw is uniform on [0, 1), the same on every machine and every
day, independent between campaigns and of every customer attribute: a
customer stays in the same arm of a campaign for all its exports, and raising
the fraction only moves customers from treatment to control.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crm_analytics.campaigns.history import recent_contacts
from crm_analytics.core.tomlfile import read_toml
from crm_analytics.errors import InputError

__all__ = ["CHANNELS", "CampaignRules", "ContactPolicy", "FrequencyCap", "holdout_draw",
           "load_contact_policy", "policy_skips"]

#: The channels an export can go out on.
CHANNELS: tuple[str, ...] = ("email", "sms", "phone", "mail")
#: A cap on every channel together.
ANY_CHANNEL = "any"
#: The environment variable naming the config file (as for ``crm-analytics score``).
ENV_CONFIG = "CRM_ANALYTICS_CONFIG"
_MAX_DAYS = 3650


def _whole(where: str, value: Any, low: int, high: int = _MAX_DAYS) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value != int(value) or not low <= value <= high:
        raise InputError(f"contact policy {where} must be a whole number in [{low}, {high}]; "
                         f"got {value!r}")
    return int(value)


@dataclass(frozen=True)
class FrequencyCap:
    """At most ``max_contacts`` contacts on ``channel`` (``any``: all channels) in ``days`` days.

    Examples
    --------
    >>> FrequencyCap(2, 7, "email").rule
    'cap email 2 in 7d'
    """

    max_contacts: int
    days: int
    channel: str = ANY_CHANNEL

    def __post_init__(self) -> None:
        _whole("caps.max_contacts", self.max_contacts, 1, 10_000)
        _whole("caps.days", self.days, 1)
        if self.channel not in (*CHANNELS, ANY_CHANNEL):
            raise InputError(f"contact policy caps.channel must be one of "
                             f"{[*CHANNELS, ANY_CHANNEL]}; got {self.channel!r}")

    @property
    def rule(self) -> str:
        """The name skipped customers are counted under."""
        return f"cap {self.channel} {self.max_contacts} in {self.days}d"


@dataclass(frozen=True)
class CampaignRules:
    """Options of one campaign: its control-group share and (optionally) its own cooldown."""

    holdout_fraction: float = 0.0
    cooldown_days: int | None = None

    def __post_init__(self) -> None:
        f = self.holdout_fraction
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 <= f < 1:
            raise InputError(f"holdout_fraction must be a share in [0, 1) such as 0.1; got {f!r}")
        if self.cooldown_days is not None:
            _whole("cooldown_days", self.cooldown_days, 0)


@dataclass(frozen=True)
class ContactPolicy:
    """How often a customer may be contacted (see the module docstring).

    Attributes
    ----------
    caps : tuple of FrequencyCap
        Rolling-window caps, per channel or across channels (``any``).
    quiet_days : int
        Minimum days between two contacts, on any channel (0: none).
    campaign_cooldown_days : int
        Minimum days before the same campaign reaches a customer again (0: none);
        counts treatment and control rows alike, so both arms are drawn the same way.
    suppress_open_complaints : bool
        Skip customers with an open complaint ticket (default True).
    campaigns : dict of str to CampaignRules
        Per-campaign holdout fraction and cooldown.

    Examples
    --------
    >>> p = ContactPolicy.from_dict({"quiet_days": 1, "caps": [{"channel": "email",
    ...     "max_contacts": 2, "days": 7}], "campaigns": {"spring": {"holdout_fraction": 0.1}}})
    >>> p.caps[0].rule, p.holdout_fraction("spring"), p.holdout_fraction("other"), p.lookback_days
    ('cap email 2 in 7d', 0.1, 0.0, 7)
    """

    caps: tuple[FrequencyCap, ...] = ()
    quiet_days: int = 0
    campaign_cooldown_days: int = 0
    suppress_open_complaints: bool = True
    campaigns: Mapping[str, CampaignRules] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _whole("quiet_days", self.quiet_days, 0)
        _whole("campaign_cooldown_days", self.campaign_cooldown_days, 0)
        if not isinstance(self.suppress_open_complaints, bool):
            raise InputError("contact policy suppress_open_complaints must be true or false; "
                             f"got {self.suppress_open_complaints!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContactPolicy:
        """A policy from plain data (a TOML ``[contact_policy]`` table)."""
        if not isinstance(data, Mapping):
            raise InputError(f"contact policy must be a table of options; got {type(data).__name__}")
        known = {"caps", "quiet_days", "campaign_cooldown_days", "suppress_open_complaints",
                 "campaigns"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"contact policy: unknown option(s) {unknown}; options are: "
                             f"{', '.join(sorted(known))}")
        caps = []
        for i, cap in enumerate(_listed(data.get("caps", ()), "caps")):
            if not isinstance(cap, Mapping) or set(cap) - {"max_contacts", "days", "channel"} \
                    or not {"max_contacts", "days"} <= set(cap):
                raise InputError(f"contact policy caps[{i}] must be a table with max_contacts, days "
                                 f"and optionally channel, e.g. {{ channel = \"email\", "
                                 f"max_contacts = 2, days = 7 }}; got {cap!r}")
            caps.append(FrequencyCap(cap["max_contacts"], cap["days"], cap.get("channel", ANY_CHANNEL)))
        campaigns = {}
        raw = data.get("campaigns", {})
        if not isinstance(raw, Mapping):
            raise InputError("contact policy campaigns must be a table of campaigns, e.g. "
                             "[contact_policy.campaigns.spring] holdout_fraction = 0.1")
        for name, rules in raw.items():
            if not isinstance(rules, Mapping) or set(rules) - {"holdout_fraction", "cooldown_days"}:
                raise InputError(f"contact policy campaigns.{name} takes holdout_fraction and "
                                 f"cooldown_days; got {rules!r}")
            campaigns[str(name)] = CampaignRules(**rules)
        options = {k: data[k] for k in ("quiet_days", "campaign_cooldown_days",
                                        "suppress_open_complaints") if k in data}
        return cls(caps=tuple(caps), campaigns=campaigns, **options)

    def to_dict(self) -> dict[str, Any]:
        """The policy as JSON-ready data (written into each export's manifest)."""
        out = asdict(self)
        out["caps"] = [asdict(c) for c in self.caps]
        out["campaigns"] = {k: asdict(v) for k, v in self.campaigns.items()}
        return out

    def holdout_fraction(self, campaign: str | None) -> float:
        """The control-group share of ``campaign`` (0 when it has no rules)."""
        rules = self.campaigns.get(campaign) if campaign is not None else None
        return float(rules.holdout_fraction) if rules else 0.0

    def cooldown_days(self, campaign: str | None) -> int:
        """Days before ``campaign`` may reach a customer again (0: no cooldown)."""
        rules = self.campaigns.get(campaign) if campaign is not None else None
        if rules is not None and rules.cooldown_days is not None:
            return int(rules.cooldown_days)
        return int(self.campaign_cooldown_days)

    @property
    def lookback_days(self) -> int:
        """The longest window any rule looks back over (of every campaign)."""
        days = [c.days for c in self.caps] + [self.quiet_days, self.campaign_cooldown_days]
        days += [r.cooldown_days or 0 for r in self.campaigns.values()]
        return max(days)


def _listed(value: Any, name: str) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    raise InputError(f"contact policy {name} must be a list; got {value!r}")


def as_policy(policy: ContactPolicy | Mapping[str, Any] | None) -> ContactPolicy:
    """``policy`` as a :class:`ContactPolicy` (None: the default, no caps).

    Examples
    --------
    >>> as_policy(None).caps, as_policy({"quiet_days": 2}).quiet_days
    ((), 2)
    """
    if policy is None:
        return ContactPolicy()
    if isinstance(policy, ContactPolicy):
        return policy
    if isinstance(policy, Mapping):
        return ContactPolicy.from_dict(policy)
    raise InputError(f"policy must be a ContactPolicy or a dict of options; got {type(policy).__name__}")


def load_contact_policy(path: str | os.PathLike | None = None, *,
                        environ: Mapping[str, str] | None = None) -> ContactPolicy:
    """The ``[contact_policy]`` table of a TOML config (default: ``$CRM_ANALYTICS_CONFIG``).

    No file, or a file without the table: the default policy (no caps; open
    complaints suppress marketing). The table may also sit inside
    ``[crm_analytics]``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as fh:
    ...     _ = fh.write('[contact_policy]\\nquiet_days = 2\\n'
    ...                  '[contact_policy.campaigns.spring]\\nholdout_fraction = 0.2\\n')
    >>> policy = load_contact_policy(fh.name)
    >>> policy.quiet_days, policy.holdout_fraction("spring")
    (2, 0.2)
    """
    env = os.environ if environ is None else environ
    if path is None:
        path = env.get(ENV_CONFIG) or None
        if path is None:
            return ContactPolicy()
    p = Path(path)
    data = read_toml(p)
    table = data.get("contact_policy")
    inner = data.get("crm_analytics")
    if table is None and isinstance(inner, Mapping):
        table = inner.get("contact_policy")
    if table is None:
        return ContactPolicy()
    try:
        return ContactPolicy.from_dict(table)
    except InputError as exc:
        raise InputError(f"{p}: {exc}") from None
    except TypeError as exc:  # a wrongly typed option reaching a dataclass
        raise InputError(f"{p}: [contact_policy] {exc}") from None


def holdout_draw(customer_ids: Iterable[str], campaign: str) -> np.ndarray:
    """The uniform draw in [0, 1) deciding each customer's arm of ``campaign``.

    A customer is in the control group when its draw is below the holdout
    fraction (see the module docstring for the hash).

    Examples
    --------
    >>> holdout_draw(["C1", "C2"], "spring").round(6).tolist()
    [0.634215, 0.983954]
    >>> bool((holdout_draw(["C1"], "spring") == holdout_draw(["C1"], "spring")).all())
    True
    """
    prefix = campaign.encode("utf-8") + b"\x1f"
    draws = [int.from_bytes(hashlib.sha256(prefix + str(c).encode("utf-8")).digest()[:8], "big") >> 11
             for c in customer_ids]
    return np.asarray(draws, dtype=np.float64) / 2.0**53


def policy_skips(store: Any, survivors: pd.Series, groups: pd.Series, *, channel: str,
                 campaign: str | None, at: pd.Timestamp, policy: ContactPolicy) -> pd.Series:
    """The rule each contact about to be exported breaks, or None.

    ``survivors``: the contact (group) of each customer about to be exported
    (index customer_id); ``groups``: the contact of every customer, to place the
    history's customer ids. Contacts are counted per person: two customer ids
    sharing an e-mail or phone are one contact, and their contacts add up.
    Rules are checked in this order, each skipped contact counted under the
    first it breaks: the campaign cooldown, the quiet period, the caps as listed
    (caps on another channel than the export's do not apply).
    """
    rule = pd.Series(None, index=survivors.index, dtype=object)
    recent = recent_contacts(store, at, policy.lookback_days)
    if recent.empty or survivors.empty:
        return rule
    recent = recent.assign(group=recent["customer_id"].map(groups)).dropna(subset=["group"])
    # One contact per person and export, whichever of its customer ids the export chose.
    sent = recent[~recent["is_control"].astype(bool)].drop_duplicates(["group", "export_id"])
    day = 86_400.0

    def mark(name: str, hit: pd.DataFrame) -> None:
        chosen = rule.isna() & survivors.isin(set(hit["group"]))
        rule[chosen.to_numpy()] = name

    cooldown = policy.cooldown_days(campaign)
    if cooldown and campaign is not None:
        mark("campaign cooldown", recent[(recent["campaign"] == campaign)
                                         & (recent["age_seconds"] < cooldown * day)])
    if policy.quiet_days:
        mark("quiet period", sent[sent["age_seconds"] < policy.quiet_days * day])
    for cap in policy.caps:
        if cap.channel not in (ANY_CHANNEL, channel):
            continue
        window = sent[sent["age_seconds"] < cap.days * day]
        if cap.channel != ANY_CHANNEL:
            window = window[window["channel"] == cap.channel]
        counts = window.groupby("group").size()
        mark(cap.rule, counts[counts >= cap.max_contacts].reset_index())
    return rule
