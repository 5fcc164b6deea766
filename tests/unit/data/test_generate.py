from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops.datasets import find_definition
from mlops.errors import DatasetError
from pipelines.generate.card_transactions import (
    CONTACTLESS_LIMIT,
    DAYTIME,
    CardOptions,
    DriftKind,
    generate_card_transactions,
)
from pipelines.generate.produce import GenerateRequest, generate
from pipelines.ingest.formats import FileFormat
from pipelines.ingest.records import read_records

DATASETS = Path(__file__).resolve().parents[3] / "pipelines" / "datasets"
DRIFT_AT = datetime(2024, 2, 15, tzinfo=UTC)


def test_same_seed_gives_identical_rows_and_another_seed_does_not() -> None:
    first = generate_card_transactions(CardOptions(rows=5000, seed=7))
    pd.testing.assert_frame_equal(first, generate_card_transactions(CardOptions(rows=5000, seed=7)))
    other = generate_card_transactions(CardOptions(rows=5000, seed=8))
    assert not first["amount"].equals(other["amount"])


@pytest.mark.parametrize(("rows", "seed"), [(1200, 2), (600, 1), (1000, 5)])
def test_a_small_set_whose_first_burst_is_longer_than_its_burst_rows_still_has_one(rows: int, seed: int) -> None:
    """`mlops data generate card_transactions --rows 1200 --seed 2` failed with an IndexError: the one burst drawn
    (up to 8 rows) was longer than the 6 burst rows of 1,200, and dropping it left none."""
    frame = generate_card_transactions(CardOptions(rows=rows, seed=seed))
    assert len(frame) == rows
    assert frame["is_fraud"].sum() >= 3  # the burst: at least three frauds


def test_rows_fit_the_definition_and_fraud_is_rare_and_patterned() -> None:
    definition = find_definition("card_transactions", DATASETS)
    frame = generate_card_transactions(CardOptions(rows=200_000, seed=1))
    assert list(frame.columns) == definition.column_names
    assert frame["transaction_id"].is_unique
    assert frame["event_time"].is_monotonic_increasing
    assert set(frame["category"]) == set(definition.column("category").allowed or [])
    assert 0.005 <= frame["is_fraud"].mean() <= 0.02
    assert frame["amount"].between(0.01, 50_000).all()
    rate = frame.groupby("channel")["is_fraud"].mean()
    assert rate["online"] > 5 * rate["card_present"]
    night = frame["event_time"].dt.hour < 6
    assert frame.loc[night, "is_fraud"].mean() > 2 * frame.loc[~night, "is_fraud"].mean()
    # daily seasonality: noon is busier than 3 am
    hours = frame["event_time"].dt.hour.value_counts()
    assert hours[12] > 5 * hours[3]


def test_drift_changes_only_events_after_its_start() -> None:
    kinds = frozenset(DriftKind)
    base = generate_card_transactions(CardOptions(rows=100_000, seed=3))
    drifted = generate_card_transactions(CardOptions(rows=100_000, seed=3, drift_start=DRIFT_AT, drift=kinds))
    after = drifted["event_time"] >= DRIFT_AT
    assert set(drifted.loc[~after, "category"]) <= set(base["category"])
    assert "crypto" in set(drifted.loc[after, "category"])
    assert "crypto" not in set(base["category"])
    before_median = base.loc[base["event_time"] >= DRIFT_AT, "amount"].median()
    assert drifted.loc[after, "amount"].median() > 1.5 * before_median
    fraud_after = drifted[after & (drifted["is_fraud"] == 1)]
    assert (fraud_after["channel"] == "contactless").mean() > 0.9


def test_fraud_pattern_drift_moves_fraud_to_daytime_domestic_taps_just_under_the_contactless_limit() -> None:
    kinds = frozenset({DriftKind.FRAUD_PATTERN})
    frame = generate_card_transactions(CardOptions(rows=100_000, seed=4, drift_start=DRIFT_AT, drift=kinds))
    after = frame["event_time"] >= DRIFT_AT
    fraud = frame[after & (frame["is_fraud"] == 1)]
    assert len(fraud) > 300
    hours = fraud["event_time"].dt.hour
    assert hours.between(DAYTIME[0], DAYTIME[1] - 1).all(), hours.value_counts().sort_index().to_dict()
    assert (fraud["channel"] == "contactless").all()
    assert fraud["amount"].between(0.9 * CONTACTLESS_LIMIT, CONTACTLESS_LIMIT).all()
    # domestic: each fraud happens in its customer's usual country
    usual = frame.groupby("customer_id")["country"].agg(lambda countries: countries.mode().iloc[0])
    assert (fraud["country"].to_numpy() == usual[fraud["customer_id"]].to_numpy()).mean() > 0.95
    # the old patterns stop: after the drift no online or foreign-burst row is fraud
    assert not frame.loc[after & (frame["channel"] == "online"), "is_fraud"].any()


def test_drift_options_must_come_together() -> None:
    with pytest.raises(ValueError, match="drift kinds were given without a drift start time"):
        CardOptions(rows=10, drift=frozenset({DriftKind.AMOUNT_SHIFT}))
    with pytest.raises(DatasetError, match="unknown drift kind 'sideways'"):
        generate(GenerateRequest("card_transactions", 10, Path("x.csv"), FileFormat.CSV, drift=("sideways",)))


@pytest.mark.parametrize("file_format", list(FileFormat))
def test_every_format_reads_back_the_same_rows(tmp_path: Path, file_format: FileFormat) -> None:
    out = tmp_path / f"cards.{file_format.value}"
    result = generate(GenerateRequest("card_transactions", 300, out, file_format, seed=2))
    assert result.rows == 300
    records = read_records(out.read_bytes(), file_format, str(out))
    assert records.rows_in == 300
    assert records.failures == []
    assert records.columns == find_definition("card_transactions", DATASETS).column_names


def test_diabetes_is_capped_at_its_442_rows_with_derived_key_and_time(tmp_path: Path) -> None:
    out = tmp_path / "diabetes.parquet"
    result = generate(GenerateRequest("diabetes", 1000, out, FileFormat.PARQUET))
    assert result.rows == 442
    assert result.notes == ["diabetes has 442 rows: --rows 1000 capped at 442"]
    frame = pd.read_parquet(out)
    assert list(frame.columns) == find_definition("diabetes", DATASETS).column_names
    assert frame["patient_id"].iloc[[0, -1]].tolist() == ["patient-0001", "patient-0442"]
    assert frame["visit_time"].iloc[-1] == pd.Timestamp("2021-03-17", tz="UTC")  # 2020-01-01 + 441 days
    assert frame["target"].iloc[0] == 151.0
    assert np.array_equal(sorted(frame["sex"].unique()), [1, 2])


def test_diabetes_rejects_drift_and_unknown_datasets_are_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="diabetes is a fixed real dataset"):
        generate(GenerateRequest("diabetes", 10, tmp_path / "d.csv", FileFormat.CSV, drift_start=DRIFT_AT))
    with pytest.raises(DatasetError, match="no producer for dataset 'weather'; producers exist for: card_trans"):
        generate(GenerateRequest("weather", 10, tmp_path / "w.csv", FileFormat.CSV))
