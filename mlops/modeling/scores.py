"""What a model answers for a batch of rows: labels (or values) and, for classifiers, class probabilities.

A fraud team applies its own threshold, so for a classifier exposing ``predict_proba`` the useful output is the
probability, not only the label:

- binary: ``probabilities[i]`` is the probability of the positive class (the definition's ``label.positive_class``,
  kept in ``positive_class``);
- multiclass: ``probabilities[i]`` lists one probability per class, in the order of ``classes``;
- regression (or a model without ``predict_proba``): ``probabilities`` is ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Scores:
    """Per-row outputs of one predict call, in row order."""

    predictions: list[Any]
    probabilities: list[Any] | None = None
    classes: list[Any] | None = None  # multiclass only: the order of each row's probabilities
    positive_class: Any = None  # binary only: the class ``probabilities`` are about
    # every class's probability per row (numpy, in the order of the model's classes): MLflow's predict_proba answer
    class_probabilities: Any = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.predictions)

    def slice(self, start: int, stop: int) -> Scores:
        """The rows ``start:stop`` (one request's share of a micro-batch)."""
        probabilities = None if self.probabilities is None else self.probabilities[start:stop]
        matrix = None if self.class_probabilities is None else self.class_probabilities[start:stop]
        return replace(
            self, predictions=self.predictions[start:stop], probabilities=probabilities, class_probabilities=matrix
        )

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
