"""What a model answers for a batch of rows: labels (or values) and, for classifiers, class probabilities.

A fraud team applies its own threshold, so for a classifier exposing ``predict_proba`` the useful output is the
probability, not only the label:

- binary: ``probabilities[i]`` is the probability of the positive class (sklearn's ``classes_[1]``, e.g. ``1``);
- multiclass: ``probabilities[i]`` lists one probability per class, in the order of ``classes``;
- regression (or a model without ``predict_proba``): ``probabilities`` is ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scores:
    """Per-row outputs of one predict call, in row order."""

    predictions: list[Any]
    probabilities: list[Any] | None = None
    classes: list[Any] | None = None  # multiclass only: the order of each row's probabilities

    def __len__(self) -> int:
        return len(self.predictions)

    def slice(self, start: int, stop: int) -> Scores:
        """The rows ``start:stop`` (one request's share of a micro-batch)."""
        probabilities = None if self.probabilities is None else self.probabilities[start:stop]
        return Scores(self.predictions[start:stop], probabilities, self.classes)

    def csv_fields(self, row: int) -> list[Any]:
        """One row's CSV fields: the prediction, then the probability or one probability per class."""
        if self.probabilities is None:
            return [self.predictions[row]]
        if self.classes is None:
            return [self.predictions[row], self.probabilities[row]]
        return [self.predictions[row], *self.probabilities[row]]

    def to_json(self) -> dict[str, Any]:
        """``{"predictions"}`` (MLflow's shape), plus ``"probabilities"`` (and ``"classes"``) for classifiers."""
        document: dict[str, Any] = {"predictions": self.predictions}
        if self.probabilities is not None:
            document["probabilities"] = self.probabilities
        if self.classes is not None:
            document["classes"] = self.classes
        return document
