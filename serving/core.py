"""The framework-free core of the inference server: a body and two headers in, a status and a body out.

:meth:`InferenceCore.invocations` is what ``POST /invocations`` does, usable without any web server (batch
inference calls it directly); with ``vertex=True`` it is what Vertex AI's predict route does (the same checks and
the same model call; Vertex's ``{"instances": [...]}`` answered in Vertex's shape). The web layer calls the two
halves, :meth:`prepare` and :meth:`respond`, around the micro-batcher so that concurrent requests share one
``predict``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlops.modeling.scores import Scores
from mlops.ports.online_store import OnlineStore
from serving import payload
from serving.errors import InvocationError, PredictionError
from serving.features import complete_from_store
from serving.model import LoadedModel
from serving.schema import (
    INSTANCES,
    ROWS,
    check_columns,
    check_instance_fields,
    coerce_rows,
    rows_to_columns,
    rows_to_frame,
)

log = logging.getLogger("serving.core")
RESPONSE_FORMAT_HEADER = "X-Mlops-Response-Format"  # "mlflow": answer exactly as `mlflow models serve` does


@dataclass(frozen=True)
class Response:
    """What the server answers: status, body and its media type."""

    status: int
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Prepared:
    """A parsed, checked request: rows in signature order, the response type and format to answer with."""

    rows: list[list[Any]]
    accept: str
    response_format: str = payload.KIT_FORMAT


def error_response(error: InvocationError) -> Response:
    """A JSON error body naming the problem, with the error's status: MLflow's error shape, ``error_code`` being
    the code MLflow's server uses for the same kind of failure (:mod:`serving.errors`)."""
    import json

    body = json.dumps({"error_code": error.error_code, "message": str(error)}).encode()
    return Response(error.status, body, payload.JSON)


class InferenceCore:
    """Parses and checks payloads against one model's signature, predicts, and renders the answer."""

    def __init__(
        self,
        model: LoadedModel,
        dataset: str | None = None,
        entity_key: str | None = None,
        online_store: OnlineStore | None = None,
        response_format: str = payload.KIT_FORMAT,
    ) -> None:
        """``response_format`` is the deployment's default answer (``kit`` or ``mlflow``, see :mod:`serving.payload`);
        a request may ask for the other with the :data:`RESPONSE_FORMAT_HEADER` header."""
        self.model = model
        self.dataset = dataset
        self.entity_key = entity_key
        self.online_store = online_store
        self.response_format = payload.response_format(response_format, payload.KIT_FORMAT)

    def prepare(
        self,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        response_format: str | None = None,
        *,
        vertex: bool = False,
    ) -> Prepared:
        """Parse and check a request; raises an :class:`InvocationError` (4xx) naming what is wrong. ``vertex``: the
        request came to Vertex AI's predict route, where ``{"instances": [...]}`` is answered in Vertex's shape."""
        form = payload.response_format(response_format, self.response_format)
        parsed = payload.parse(body, content_type, vertex=True) if vertex else None
        if parsed is not None and parsed.instances:
            return Prepared(self._rows(parsed), payload.JSON, payload.VERTEX_FORMAT)  # Vertex reads JSON only
        # MLflow's server answers JSON whatever Accept says: in its format, Accept is not negotiated
        answer_as = payload.JSON if form == payload.MLFLOW_FORMAT else payload.negotiate(accept)
        return Prepared(self._rows(parsed or payload.parse(body, content_type)), answer_as, form)

    def _rows(self, parsed: payload.Payload) -> list[list[Any]]:
        schema = self.model.schema
        terms = INSTANCES if parsed.instances else ROWS
        if parsed.text and parsed.columns is not None and not self._names_known(parsed.columns):
            # headerless CSV whose first row happens to look like names: it is data (batch transform sends these)
            parsed = payload.Payload(None, [parsed.columns, *parsed.rows], text=True)
        if parsed.columns is None:
            return coerce_rows(schema, parsed.rows, text=parsed.text, terms=terms)
        lookup = self._is_key_lookup(parsed.columns)
        if parsed.instances:
            check_instance_fields(
                parsed.columns if lookup else schema.names, parsed.columns, parsed.rows, schema.describe()
            )
        if lookup:
            if self.online_store is None or self.entity_key is None or self.dataset is None:
                raise InvocationError("this server has no online feature store: send every feature")
            ids = [row[0] for row in parsed.rows]
            rows = complete_from_store(schema, self.dataset, self.entity_key, ids, self.online_store)
            return coerce_rows(schema, rows, terms=terms)
        check_columns(schema, parsed.columns)
        order = [parsed.columns.index(name) for name in schema.names]
        ordered = [[row[i] for i in order] for row in parsed.rows]
        return coerce_rows(schema, ordered, text=parsed.text, terms=terms)

    def _names_known(self, columns: Sequence[str]) -> bool:
        known = {*self.model.schema.names, self.entity_key}
        return any(name in known for name in columns)

    def _is_key_lookup(self, columns: Sequence[str]) -> bool:
        return self.entity_key is not None and list(columns) == [self.entity_key]

    def predict_rows(self, rows: list[list[Any]]) -> Scores:
        """Predictions (and class probabilities) for checked rows: one DataFrame, one model call."""
        try:
            schema = self.model.schema
            # the compiled model reads columns of values: no DataFrame to build for it
            frame = rows_to_columns(schema, rows) if self.model.engine == "onnx" else rows_to_frame(schema, rows)
            return self.model.score(frame)
        except Exception as exc:  # the model's own failure on valid input: a 500 naming it
            raise PredictionError(f"the model failed to predict: {type(exc).__name__}: {exc}") from exc

    def respond(self, scores: Scores, prepared: Prepared) -> Response:
        """The answer to a prepared request: the kit's JSON or CSV, or MLflow's answer (:mod:`serving.payload`)."""
        if prepared.response_format == payload.MLFLOW_FORMAT:
            return Response(200, payload.render_mlflow(scores, self.model.predict_fn), payload.JSON)
        if prepared.response_format == payload.VERTEX_FORMAT:
            return Response(200, payload.render_vertex(scores), payload.JSON)
        return Response(200, payload.render(scores, prepared.accept), prepared.accept)

    def invocations(
        self,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        response_format: str | None = None,
        *,
        vertex: bool = False,
    ) -> Response:
        """The whole ``POST /invocations`` (``vertex``: Vertex AI's predict route) in one call: never raises for a
        bad request, answers 4xx instead."""
        try:
            prepared = self.prepare(body, content_type, accept, response_format, vertex=vertex)
            return self.respond(self.predict_rows(prepared.rows), prepared)
        except InvocationError as exc:
            return error_response(exc)
