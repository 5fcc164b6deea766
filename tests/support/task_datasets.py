"""Raw samples of one dataset per supervised task, as a new user would bring them (a file with an id, an entity,
a time, a few columns and a label), each with a learnable signal:

- ``tumours``: binary with STRING labels; the positive class ``cancer`` is the rarer one and sorts FIRST (a
  model's ``classes_[1]`` is ``healthy``), so serving or gating "class 1" would be about the wrong outcome;
- ``plants``: multiclass, three string classes;
- ``houses``: regression (the label column is named ``price``: nothing in its name says it is the label).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

START = datetime(2025, 1, 1, tzinfo=UTC)
TASKS = {"tumours": "binary", "plants": "multiclass", "houses": "regression"}
LABELS = {"tumours": "diagnosis", "plants": "species", "houses": "price"}


def _times(rows: int, rng: np.random.Generator) -> list[str]:
    hours = np.sort(rng.integers(0, rows * 6, rows))
    return [(START + timedelta(hours=int(h))).strftime("%Y-%m-%dT%H:%M:%SZ") for h in hours]


def tumours(rows: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = np.round(rng.gamma(4.0, 5.0, rows), 2)
    texture = np.round(rng.normal(20.0, 4.0, rows), 2)
    site = rng.choice(["breast", "lung", "skin"], rows)
    risk = 0.12 * (size - 20.0) + 0.3 * (texture - 20.0) + np.where(site == "lung", 1.0, 0.0)
    cancer = rng.random(rows) < 1.0 / (1.0 + np.exp(-(risk - 1.0)))
    return pd.DataFrame(
        {
            "record_id": [f"r{i:05d}" for i in range(rows)],
            "patient_id": [f"p{i:03d}" for i in rng.integers(0, max(rows // 4, 2), rows)],
            "seen_at": _times(rows, rng),
            "size_mm": size,
            "texture": texture,
            "site": site,
            "diagnosis": np.where(cancer, "cancer", "healthy"),
        }
    )


def plants(rows: int, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    species = rng.choice(["setosa", "versicolor", "virginica"], rows, p=[0.4, 0.35, 0.25])
    centre = pd.Series(species).map({"setosa": 1.5, "versicolor": 4.3, "virginica": 5.6}).to_numpy()
    width = pd.Series(species).map({"setosa": 0.25, "versicolor": 1.3, "virginica": 2.0}).to_numpy()
    return pd.DataFrame(
        {
            "sample_id": [f"s{i:05d}" for i in range(rows)],
            "plant_id": [f"g{i:03d}" for i in rng.integers(0, max(rows // 5, 2), rows)],
            "measured_at": _times(rows, rng),
            "petal_length": np.round(centre + rng.normal(0, 0.45, rows), 2),
            "petal_width": np.round(width + rng.normal(0, 0.2, rows), 2),
            "soil": rng.choice(["clay", "sand"], rows),
            "species": species,
        }
    )


def houses(rows: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    area = np.round(rng.uniform(30, 200, rows), 1)
    rooms = rng.integers(1, 7, rows)
    district = rng.choice(["centre", "suburb", "rural"], rows)
    uplift = pd.Series(district).map({"centre": 80.0, "suburb": 30.0, "rural": 0.0}).to_numpy()
    return pd.DataFrame(
        {
            "listing_id": [f"l{i:05d}" for i in range(rows)],
            "agent_id": [f"a{i:02d}" for i in rng.integers(0, max(rows // 10, 2), rows)],
            "listed_at": _times(rows, rng),
            "area": area,
            "rooms": rooms,
            "district": district,
            "price": np.round(2.5 * area + 10.0 * rooms + uplift + rng.normal(0, 10.0, rows), 2),
        }
    )


SAMPLES = {"tumours": tumours, "plants": plants, "houses": houses}


def sample(name: str, rows: int) -> pd.DataFrame:
    return SAMPLES[name](rows)
