"""The record of one validation run, stored as JSON in the monitoring zone and published as metrics."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ValidationResult:
    """Counts, verdicts and where the rows went. ``rows_in == rows_valid + rows_quarantined`` always."""

    dataset: str
    batch_id: str
    source_key: str
    started_at: str
    finished_at: str
    rows_in: int
    rows_valid: int
    rows_quarantined: int
    max_bad_fraction: float
    reconciled: bool
    success: bool
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    expectations: list[dict[str, Any]] = field(default_factory=list)
    validated_key: str | None = None
    quarantine_key: str | None = None

    @property
    def bad_fraction(self) -> float:
        return self.rows_quarantined / self.rows_in if self.rows_in else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "bad_fraction": round(self.bad_fraction, 6)}

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True).encode()

    def metrics(self) -> dict[str, float]:
        """The figures published per run (``success`` as 1 or 0)."""
        return {
            "rows_in": float(self.rows_in),
            "rows_valid": float(self.rows_valid),
            "rows_quarantined": float(self.rows_quarantined),
            "bad_fraction": self.bad_fraction,
            "success": 1.0 if self.success else 0.0,
        }


METRIC_UNITS = {"rows_in": "Count", "rows_valid": "Count", "rows_quarantined": "Count"}
