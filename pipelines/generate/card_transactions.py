"""Synthetic card transactions for fraud detection, matching ``pipelines/datasets/card_transactions.yaml``.

The population is drawn first: customers (home country, spending scale, activity, preferred channel) and
merchants (one category each). Transactions then pick a customer by activity, a category and a merchant, a time
with daily and weekly seasonality, an amount log-normal per category scaled by the customer, a channel and a
country (mostly the customer's home). Fraud follows patterns a model can learn:

- bursts: a compromised card makes 3-8 online purchases abroad within minutes (``txn_count_1h`` sees them);
- single frauds whose odds rise with a foreign country, night hours, the online channel and an amount far above
  the customer's usual spend.

Drift (``drift_start`` + ``DriftKind``) changes events at or after that time: ``amount_shift`` scales amounts,
``new_category`` adds a category value the definition does not allow, ``fraud_pattern`` moves fraud to
domestic, daytime, contactless purchases: stolen physical cards tapped in shops just under the no-PIN contactless
limit, singly or in series (the compromised cards' bursts become series of taps), while the old patterns stop (the
foreign, night and online purchases after the drift are genuine). Everything is vectorised numpy; one seed gives
identical output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import numpy as np
import pandas as pd

CATEGORIES = (
    "grocery",
    "restaurants",
    "travel",
    "electronics",
    "fuel",
    "entertainment",
    "health",
    "fashion",
    "online_services",
)
CATEGORY_WEIGHTS = np.array([0.26, 0.16, 0.04, 0.06, 0.12, 0.08, 0.07, 0.09, 0.12])
# log-normal (mu, sigma) of the amount per category: median exp(mu) in currency units
AMOUNT_MU = np.array([3.6, 3.4, 5.6, 5.2, 3.8, 3.5, 3.7, 4.3, 2.9])
AMOUNT_SIGMA = np.array([0.6, 0.6, 0.9, 0.9, 0.4, 0.7, 0.8, 0.7, 0.8])
CHANNELS = ("card_present", "online", "contactless")
# channel probabilities per category (rows follow CATEGORIES)
CHANNEL_P = np.array(
    [
        [0.55, 0.05, 0.40],
        [0.50, 0.15, 0.35],
        [0.20, 0.75, 0.05],
        [0.35, 0.60, 0.05],
        [0.60, 0.00, 0.40],
        [0.35, 0.45, 0.20],
        [0.60, 0.15, 0.25],
        [0.40, 0.45, 0.15],
        [0.00, 1.00, 0.00],
    ]
)
COUNTRIES = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "CA", "BR", "IN", "NG", "RU", "CN", "MX")
HOME_WEIGHTS = np.array([0.45, 0.12, 0.1, 0.08, 0.06, 0.05, 0.04, 0.1, 0, 0, 0, 0, 0, 0])
DRIFT_CATEGORY = "crypto"
# relative activity per hour of day (local time simplified to UTC) and per weekday (Mon..Sun)
HOUR_PROFILE = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 3.5, 4, 4.2, 4.8, 5.5, 5, 4.4, 4.2, 4.5, 5.2, 5.8, 5.5, 4.5, 3.5, 2.5, 1.6]
)
WEEKDAY_PROFILE = np.array([0.9, 0.9, 0.95, 1.0, 1.2, 1.35, 1.1])
SPAN = timedelta(days=90)
DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)
BURST_SHARE = 0.005  # fraction of rows that belong to fraud bursts
CONTACTLESS_LIMIT = 100.0  # no PIN asked below it: stolen-card fraud stays just under it
TAP_FRAUD_RATE = 0.006  # after ``fraud_pattern`` drift: share of drifted rows that are single stolen-card taps
DAYTIME = (9, 18)  # hours [start, end) in which the drifted fraud happens: shops are open
# categories a stolen card is tapped in, weighted by how often each category is paid contactless
TAP_CATEGORY_P = CATEGORY_WEIGHTS * CHANNEL_P[:, 2] / (CATEGORY_WEIGHTS * CHANNEL_P[:, 2]).sum()
_SECONDS = 86_400


class DriftKind(StrEnum):
    """What changes for events at or after the drift start."""

    AMOUNT_SHIFT = "amount_shift"
    NEW_CATEGORY = "new_category"
    FRAUD_PATTERN = "fraud_pattern"


@dataclass(frozen=True)
class CardOptions:
    """Options of one generation run; the same options and seed give identical rows."""

    rows: int
    seed: int = 0
    start: datetime = DEFAULT_START
    drift_start: datetime | None = None
    drift: frozenset[DriftKind] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.rows < 1:
            raise ValueError(f"rows must be at least 1, got {self.rows}")
        if self.drift and self.drift_start is None:
            raise ValueError("drift kinds were given without a drift start time")
        if self.drift_start is not None and not self.drift:
            raise ValueError("a drift start time was given without any drift kind")


@dataclass(frozen=True)
class _Population:
    home: np.ndarray  # country index per customer
    scale: np.ndarray  # spending multiplier per customer
    activity: np.ndarray  # probability of each customer making a transaction
    merchant_offsets: np.ndarray  # first merchant index of each category
    merchant_counts: np.ndarray  # merchants per category


def _population(rng: np.random.Generator, rows: int) -> _Population:
    customers = max(20, rows // 40)
    home = rng.choice(len(COUNTRIES), size=customers, p=HOME_WEIGHTS / HOME_WEIGHTS.sum())
    scale = rng.lognormal(0.0, 0.35, size=customers)
    activity = rng.gamma(2.0, 1.0, size=customers)
    merchants = max(len(CATEGORIES) * 3, rows // 150)
    counts = np.maximum(3, np.round(CATEGORY_WEIGHTS * merchants).astype(np.int64))
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return _Population(home, scale, activity / activity.sum(), offsets, counts)


def _event_seconds(rng: np.random.Generator, rows: int, start: datetime) -> np.ndarray:
    """Seconds after ``start``: the day by weekday weight, the hour by the daily profile, then uniform."""
    days = SPAN.days
    weekday = (np.arange(days) + start.weekday()) % 7
    day_p = WEEKDAY_PROFILE[weekday] / WEEKDAY_PROFILE[weekday].sum()
    day = rng.choice(days, size=rows, p=day_p)
    hour = rng.choice(24, size=rows, p=HOUR_PROFILE / HOUR_PROFILE.sum())
    return day * _SECONDS + hour * 3600 + rng.integers(0, 3600, size=rows)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return result


def generate_card_transactions(options: CardOptions) -> pd.DataFrame:
    """Rows in the columns of the ``card_transactions`` definition, sorted by event time."""
    rng = np.random.default_rng(options.seed)
    n = options.rows
    pop = _population(rng, n)
    customer = rng.choice(len(pop.home), size=n, p=pop.activity)
    seconds = _event_seconds(rng, n, options.start)
    category = rng.choice(len(CATEGORIES), size=n, p=CATEGORY_WEIGHTS)
    channel = (rng.random(n)[:, None] > np.cumsum(CHANNEL_P[category], axis=1)).sum(axis=1)
    channel = np.minimum(channel, len(CHANNELS) - 1)
    foreign = rng.random(n) < 0.03
    country = np.where(foreign, rng.integers(0, len(COUNTRIES), size=n), pop.home[customer])
    foreign = country != pop.home[customer]
    log_amount = AMOUNT_MU[category] + np.log(pop.scale[customer]) + AMOUNT_SIGMA[category] * rng.standard_normal(n)
    unusual = rng.random(n) < 0.01  # occasional big purchases, mostly legitimate
    log_amount = log_amount + unusual * rng.uniform(1.0, 2.5, size=n)
    hour = (seconds % _SECONDS) // 3600
    night = hour < 6

    # single frauds: odds rise with foreign country, night, online and an unusual amount
    logit = -7.0 + 2.2 * foreign + 1.4 * night + 1.1 * (channel == 1) + 1.8 * unusual
    is_fraud = rng.random(n) < _sigmoid(logit)

    # bursts: a compromised card makes several quick online purchases, mostly abroad
    burst_rows = int(n * BURST_SHARE)
    burst_of = np.full(n, -1)  # the burst each row belongs to (-1: none)
    if burst_rows >= 3:
        # A first burst longer than all the burst rows is cut to them: dropped, it left no burst at all (and an
        # empty one failed below, e.g. 1,200 rows of seed 2).
        sizes = np.minimum(rng.integers(3, 9, size=max(1, burst_rows // 5)), burst_rows)
        sizes = sizes[np.cumsum(sizes) <= burst_rows]
        members = rng.choice(n, size=int(sizes.sum()), replace=False)
        burst_id = np.repeat(np.arange(len(sizes)), sizes)
        victim = rng.choice(len(pop.home), size=len(sizes), p=pop.activity)
        burst_start = rng.integers(0, SPAN.days * _SECONDS - 3600, size=len(sizes))
        customer[members] = victim[burst_id]
        gaps = rng.integers(20, 400, size=len(members)).cumsum()
        first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        seconds[members] = burst_start[burst_id] + gaps - np.repeat(gaps[first], sizes)
        category[members] = rng.choice([2, 3, 8], size=len(members))
        channel[members] = 1
        abroad = rng.random(len(sizes))[burst_id] < 0.75
        country[members] = np.where(
            abroad, rng.integers(8, len(COUNTRIES), size=len(members)), pop.home[victim[burst_id]]
        )
        log_amount[members] = AMOUNT_MU[category[members]] + rng.uniform(0.3, 1.5, size=len(members))
        is_fraud[members] = True
        burst_of[members] = burst_id

    if options.drift_start is not None:
        drift_at = (options.drift_start - options.start).total_seconds()
        drifted = seconds >= drift_at
        _apply_drift(
            rng,
            options.drift,
            drifted=drifted,
            seconds=seconds,
            burst_of=burst_of,
            category=category,
            channel=channel,
            country=country,
            home=pop.home[customer],
            log_amount=log_amount,
            is_fraud=is_fraud,
        )

    amount = np.clip(np.round(np.exp(log_amount), 2), 0.01, 50_000.0)
    order = np.argsort(seconds, kind="stable")
    category_values = np.asarray((*CATEGORIES, DRIFT_CATEGORY), dtype=object)
    frame = pd.DataFrame(
        {
            "transaction_id": [f"txn-{options.seed}-{i:09d}" for i in range(n)],
            "customer_id": _ids("cust", len(pop.home))[customer[order]],
            "merchant_id": _ids("merch", int(pop.merchant_counts.sum()))[_merchant(rng, category, pop)[order]],
            "event_time": pd.Timestamp(options.start) + pd.to_timedelta(seconds[order], unit="s"),
            "amount": amount[order],
            "category": category_values[category[order]],
            "channel": np.asarray(CHANNELS, dtype=object)[channel[order]],
            "country": np.asarray(COUNTRIES, dtype=object)[country[order]],
            "is_fraud": is_fraud[order].astype(np.int64),
        }
    )
    return frame


def _apply_drift(
    rng: np.random.Generator,
    kinds: frozenset[DriftKind],
    *,
    drifted: np.ndarray,
    seconds: np.ndarray,
    burst_of: np.ndarray,
    category: np.ndarray,
    channel: np.ndarray,
    country: np.ndarray,
    home: np.ndarray,
    log_amount: np.ndarray,
    is_fraud: np.ndarray,
) -> None:
    """Change the drifted rows in place."""
    if DriftKind.AMOUNT_SHIFT in kinds:
        log_amount[drifted] += np.log(1.8)  # prices up 80%: the amount distribution shifts right
    if DriftKind.NEW_CATEGORY in kinds:
        new = drifted & (rng.random(len(drifted)) < 0.08)
        category[new] = len(CATEGORIES)  # DRIFT_CATEGORY, outside the definition's allowed values
        channel[new] = 1
    if DriftKind.FRAUD_PATTERN in kinds:
        _tap_fraud(
            rng,
            drifted=drifted,
            seconds=seconds,
            burst_of=burst_of,
            category=category,
            channel=channel,
            country=country,
            home=home,
            log_amount=log_amount,
            is_fraud=is_fraud,
        )


def _tap_fraud(
    rng: np.random.Generator,
    *,
    drifted: np.ndarray,
    seconds: np.ndarray,
    burst_of: np.ndarray,
    category: np.ndarray,
    channel: np.ndarray,
    country: np.ndarray,
    home: np.ndarray,
    log_amount: np.ndarray,
    is_fraud: np.ndarray,
) -> None:
    """Drifted fraud is stolen cards tapped at home: contactless, domestic, in shop categories, in daytime, each
    amount just under the no-PIN limit. Single taps are drawn anew; a burst after the drift keeps its card and its
    minutes-apart rhythm and becomes a series of such taps (a thief taps until the card is blocked). Every other
    drifted row is genuine: the old patterns stop."""
    bursts = drifted & (burst_of >= 0)
    taps = (drifted & ~bursts & (rng.random(len(drifted)) < TAP_FRAUD_RATE)) | bursts
    index = np.flatnonzero(taps)
    is_fraud[drifted] = False
    is_fraud[index] = True
    channel[index] = 2
    country[index] = home[index]
    category[index] = rng.choice(len(CATEGORIES), size=len(index), p=TAP_CATEGORY_P)
    log_amount[index] = np.log(CONTACTLESS_LIMIT * rng.uniform(0.9, 0.995, size=len(index)))
    # daytime: a single tap gets a time of day in DAYTIME; a burst moves as a whole, its first tap in DAYTIME
    group = np.where(bursts[index], burst_of[index], -1 - np.arange(len(index)))
    _, inverse = np.unique(group, return_inverse=True)
    start = np.full(inverse.max(initial=-1) + 1, np.iinfo(np.int64).max)
    np.minimum.at(start, inverse, seconds[index])  # a burst's first tap
    opening = rng.integers(DAYTIME[0] * 3600, (DAYTIME[1] - 1) * 3600, size=len(start))
    shift = start - start % _SECONDS + opening - start
    seconds[index] += shift[inverse]


def _merchant(rng: np.random.Generator, category: np.ndarray, pop: _Population) -> np.ndarray:
    """A merchant of each row's category (the drift category borrows online_services' merchants)."""
    known = np.minimum(category, len(CATEGORIES) - 1)
    pick = np.floor(rng.random(len(category)) * pop.merchant_counts[known]).astype(np.int64)
    result: np.ndarray = pop.merchant_offsets[known] + pick
    return result


def _ids(prefix: str, count: int) -> np.ndarray:
    width = len(str(count))
    return np.asarray([f"{prefix}-{i:0{width}d}" for i in range(count)], dtype=object)
