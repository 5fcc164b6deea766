"""Point-in-time retrieval: no feature value from after the spine time, no label unknown at the cutoff."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from pipelines.feature_store.offline import labelled_rows, latest_per_entity, point_in_time_join
from tests.unit.training.synthetic import definition

DEF = definition("pit_test", arrival_delay="30d")


def _features() -> pd.DataFrame:
    times = pd.to_datetime(["2025-01-01T00:00Z", "2025-01-10T00:00Z", "2025-02-01T00:00Z"], utc=True)
    return pd.DataFrame(
        {
            "transaction_id": ["t1", "t2", "t3"],
            "customer_id": ["c1", "c1", "c1"],
            "event_time": times,
            "amount": [10.0, 20.0, 999.0],  # the last value lies in the future of every spine row below
            "category": ["fuel", "fuel", "travel"],
            "hour_of_day": [0, 0, 0],
            "txn_count_24h": [1, 1, 1],
            "is_fraud": [0, 1, 1],
        }
    )


def test_join_takes_the_latest_value_at_or_before_the_spine_time_never_a_later_one() -> None:
    spine = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c1", "c2"],
            "event_time": pd.to_datetime(
                ["2025-01-10T00:00Z", "2025-01-05T00:00Z", "2024-12-31T00:00Z", "2025-01-05T00:00Z"], utc=True
            ),
            "is_fraud": [1, 0, 0, 1],
        }
    )
    joined = point_in_time_join(_features(), spine, DEF, cutoff=datetime(2025, 3, 1, tzinfo=UTC))
    # exact time match included; earlier spine time gets the earlier row; before any row and unknown entity: null.
    assert joined["amount"].tolist()[:2] == [20.0, 10.0]
    assert joined["amount"].isna().tolist()[2:] == [True, True]
    assert 999.0 not in joined["amount"].tolist()


def test_labels_not_yet_arrived_at_the_cutoff_are_dropped() -> None:
    spine = pd.DataFrame(
        {
            "customer_id": ["c1", "c1"],
            "event_time": pd.to_datetime(["2025-01-01T00:00Z", "2025-01-20T00:00Z"], utc=True),
            "is_fraud": [0, 1],
        }
    )
    joined = point_in_time_join(_features(), spine, DEF, cutoff=datetime(2025, 2, 5, tzinfo=UTC))
    # 2025-01-20 + 30d = 2025-02-19 > cutoff: that label is not known yet.
    assert joined["is_fraud"].tolist()[0] == 0
    assert pd.isna(joined["is_fraud"].tolist()[1])


def test_training_rows_use_only_labels_known_at_the_cutoff() -> None:
    # t2 (2025-01-10) has its label from 2025-02-09T00:00 (30 days later): one hour earlier it is unknown.
    rows = labelled_rows(_features(), DEF, cutoff=datetime(2025, 2, 8, 23, tzinfo=UTC))
    assert rows["transaction_id"].tolist() == ["t1"]
    rows = labelled_rows(_features(), DEF, cutoff=datetime(2025, 2, 9, tzinfo=UTC))
    assert rows["transaction_id"].tolist() == ["t1", "t2"]


def test_latest_per_entity_picks_the_newest_row() -> None:
    latest = latest_per_entity(_features(), DEF)
    assert latest["transaction_id"].tolist() == ["t3"]
