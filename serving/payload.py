"""Request bodies in, response bodies out: the content types of the SageMaker and MLflow serving contracts.

Accepted ``Content-Type`` values:

- ``text/csv``: one row a line, with a header naming the columns or without one (then the fields are in the
  signature's order, as SageMaker batch transform sends them);
- ``application/jsonlines`` (also ``application/x-jsonlines``, ``application/jsonl``): one JSON object (a record)
  or array (a row in signature order) a line;
- ``application/json``: MLflow's formats ``{"dataframe_split": {"columns": [...], "data": [[...]]}}``,
  ``{"dataframe_records": [{...}]}``, ``{"instances": [...]}`` and ``{"inputs": ...}`` (records, rows, or a
  mapping of column to values). MLflow's ``"params"`` may sit next to the data key (an object; sklearn models take
  no parameters, as MLflow's sklearn flavour ignores them).

On a Vertex AI predict route (:func:`parse` with ``vertex=True``) a JSON body ``{"instances": [...]}`` (optionally
with ``"parameters"``, an object) is Vertex's prediction request: every instance an object keyed by feature name, or
every one a list in feature order. It is answered ``{"predictions": [...]}``, one object per instance
(:func:`render_vertex`); any other body on that route is read as above.

Responses are JSON (``{"predictions": [...]}``, MLflow's shape, plus ``"probabilities"`` for a classifier) or
CSV (one row a line: the prediction, then a classifier's probability column(s)), chosen from ``Accept``; or, when
asked for (:data:`MLFLOW_FORMAT`), exactly what ``mlflow models serve`` answers for the same model: JSON
``{"predictions": <the output of the model's pyfunc predict function>}`` (``predict_proba``'s rows of class
probabilities for the kit's classifiers), whatever ``Accept`` says, as MLflow's server does.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlops.modeling.scores import Scores
from serving.errors import BadPayloadError, NotAcceptableError, PayloadTooLargeError, UnsupportedContentTypeError

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
_JSONLINES_ALIASES = (JSONLINES, "application/x-jsonlines", "application/jsonl", "application/x-ndjson")
ACCEPTED_CONTENT_TYPES = (CSV, JSON, *_JSONLINES_ALIASES)
RESPONSE_TYPES = (JSON, CSV)
JSON_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
PARAMS_KEY = "params"  # MLflow's inference parameters, next to the data key
KIT_FORMAT = "kit"
MLFLOW_FORMAT = "mlflow"
RESPONSE_FORMATS = (KIT_FORMAT, MLFLOW_FORMAT)
RESPONSE_FORMAT_ENV = "SERVING_RESPONSE_FORMAT"  # the deployment's default answer (serving/server.py)
VERTEX_FORMAT = "vertex"  # Vertex AI's answer to its own request shape; chosen by the body, never by a header
VERTEX_KEYS = ("instances", "parameters")
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker InvokeEndpoint's limit


@dataclass(frozen=True)
class Payload:
    """Parsed rows. ``columns`` is ``None`` when the rows are positional (signature order)."""

    columns: list[str] | None
    rows: list[list[Any]]
    text: bool = False  # values are CSV strings still to be read as the column types
    params: dict[str, Any] | None = None  # MLflow's "params" (Vertex's "parameters") of a JSON body
    instances: bool = False  # Vertex AI's instances: a field an instance lacks is MISSING in its row


class _Missing:
    """The value of a field an instance does not hold (``None`` is a value: a null the instance sent)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def media_type(header: str | None) -> str:
    """``"Text/CSV; charset=utf-8"`` -> ``"text/csv"``."""
    return (header or "").split(";", 1)[0].strip().lower()


def parse(body: bytes, content_type: str | None, *, vertex: bool = False) -> Payload:
    """Parse a request body by its content type; 415 for an unknown type, 400 for a malformed or empty body.
    ``vertex``: the body came to a Vertex AI predict route, where ``{"instances": [...]}`` is Vertex's request."""
    kind = media_type(content_type)
    if kind not in ACCEPTED_CONTENT_TYPES:
        raise UnsupportedContentTypeError(
            f"content type {kind or '(none)'!r} is not supported; send one of: {', '.join(ACCEPTED_CONTENT_TYPES)}"
        )
    if len(body) > MAX_PAYLOAD_BYTES:
        raise_too_large(len(body))
    if not body.strip():
        raise BadPayloadError("the request body is empty; send at least one row")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadPayloadError(f"the request body is not UTF-8 text: {exc}") from exc
    if kind == CSV:
        return _parse_csv(text)
    if kind == JSON:
        return _parse_json(text, vertex)
    return _parse_jsonlines(text)


def raise_too_large(size: int) -> None:
    raise PayloadTooLargeError(f"the request body has {size} bytes; the limit is {MAX_PAYLOAD_BYTES} bytes (6 MB)")


def _parse_csv(text: str) -> Payload:
    try:
        lines = [row for row in csv.reader(io.StringIO(text)) if row]
    except csv.Error as exc:
        raise BadPayloadError(f"the CSV body is malformed: {exc}") from exc
    if not lines:
        raise BadPayloadError("the CSV body holds no rows")
    first = lines[0]
    if all(_looks_like_name(field) for field in first):
        if len(lines) == 1:
            raise BadPayloadError(f"the CSV body holds a header ({', '.join(first)}) but no rows")
        return Payload(columns=[field.strip() for field in first], rows=_rectangular(lines[1:], len(first)), text=True)
    return Payload(columns=None, rows=[list(row) for row in lines], text=True)


def _looks_like_name(field: str) -> bool:
    """Header fields are identifiers; a data row holds at least one number (every model here has one)."""
    stripped = field.strip()
    return bool(stripped) and stripped.replace("_", "a").isalnum() and not stripped[0].isdigit()


def _rectangular(rows: list[list[str]], width: int) -> list[list[Any]]:
    for index, row in enumerate(rows):
        if len(row) != width:
            raise BadPayloadError(f"CSV row {index} has {len(row)} fields; the header has {width}")
    return [list(row) for row in rows]


def _load_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadPayloadError(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError:  # the parser recurses per nesting level: a deep [[[[...]]]] is refused, not a crash
        raise BadPayloadError(f"{where} nests arrays or objects too deeply to be a model input") from None


def _parse_json(text: str, vertex: bool = False) -> Payload:
    document = _load_json(text, "the JSON body")
    if vertex and isinstance(document, dict) and "instances" in document:
        return _vertex_instances(document)
    if not isinstance(document, dict):
        raise BadPayloadError(f"the JSON body must be an object with one of the keys {', '.join(JSON_FORMATS)}")
    keys = [key for key in document if key in JSON_FORMATS]
    unknown = [key for key in document if key not in (*JSON_FORMATS, PARAMS_KEY)]
    if len(keys) != 1 or unknown:
        raise BadPayloadError(
            f"the JSON body must hold exactly one of the keys {', '.join(JSON_FORMATS)} (and optionally "
            f"{PARAMS_KEY!r}); got {', '.join(map(str, document)) or 'no keys'}"
        )
    params = document.get(PARAMS_KEY)
    if params is not None and not isinstance(params, dict):
        raise BadPayloadError(
            f'"{PARAMS_KEY}" must be an object of parameter names to values, got {type(params).__name__}'
        )
    key = keys[0]
    value = document[key]
    parsed = _from_split(value) if key == "dataframe_split" else _from_records_or_rows(value, key)
    return Payload(parsed.columns, parsed.rows, params=params)


def _from_split(value: Any) -> Payload:
    if not isinstance(value, dict) or "data" not in value:
        raise BadPayloadError('dataframe_split must be an object with "columns" and "data"')
    columns, data = value.get("columns"), value["data"]
    if columns is not None and (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)):
        raise BadPayloadError("dataframe_split.columns must be a list of column names")
    if not isinstance(data, list) or not all(isinstance(row, list) for row in data):
        raise BadPayloadError("dataframe_split.data must be a list of rows (lists of values)")
    if columns is not None:
        for index, row in enumerate(data):
            if len(row) != len(columns):
                raise BadPayloadError(
                    f"dataframe_split.data row {index} has {len(row)} values for {len(columns)} columns"
                )
    return Payload(columns=columns, rows=data)


def _from_records_or_rows(value: Any, key: str) -> Payload:
    if isinstance(value, dict):  # {"inputs": {"col": [v, ...]}}: columnar
        columns = [str(name) for name in value]
        lists = [v if isinstance(v, list) else [v] for v in value.values()]
        lengths = {len(v) for v in lists}
        if len(lengths) > 1:
            raise BadPayloadError(f"{key}: every column must hold the same number of values, got {sorted(lengths)}")
        return Payload(columns=columns, rows=[list(row) for row in zip(*lists, strict=True)])
    if not isinstance(value, list) or not value:
        raise BadPayloadError(f"{key} must be a non-empty list of records or rows, or a mapping of columns to values")
    return _records(value, key)


def _records(items: Sequence[Any], where: str) -> Payload:
    if all(isinstance(item, dict) for item in items):
        columns: list[str] = []
        for item in items:
            columns.extend(name for name in item if name not in columns)
        return Payload(columns=columns, rows=[[item.get(name) for name in columns] for item in items])
    if all(isinstance(item, list) for item in items):
        return Payload(columns=None, rows=[list(item) for item in items])
    raise BadPayloadError(f"{where} must hold only records (objects) or only rows (arrays), not a mix or scalars")


def _vertex_instances(document: dict[str, Any]) -> Payload:
    """Vertex AI's ``{"instances": [...], "parameters": {...}}``; a 400 names the instance at fault."""
    unknown = [str(key) for key in document if key not in VERTEX_KEYS]
    if unknown:
        raise BadPayloadError(
            f"a Vertex AI prediction request holds only {' and '.join(map(repr, VERTEX_KEYS))}; got {unknown}"
        )
    parameters = document.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise BadPayloadError(f'"parameters" must be an object of parameter names to values, got {_a(parameters)}')
    instances = document["instances"]
    if not isinstance(instances, list) or not instances:
        raise BadPayloadError(
            '"instances" must be a non-empty list of instances (objects keyed by feature name, or lists in feature '
            f"order), got {_a(instances)}"
        )
    first = instances[0]
    for index, item in enumerate(instances):
        if not isinstance(item, dict | list) or type(item) is not type(first):
            same = "" if index == 0 else f" where instance 0 is {_a(first)}"
            raise BadPayloadError(
                f"instance {index} is {_a(item)}{same}: send every instance as an object keyed by feature name, or "
                "every one as a list in feature order"
            )
    if isinstance(first, list):
        return Payload(columns=None, rows=[list(item) for item in instances], params=parameters, instances=True)
    columns: list[str] = []
    for item in instances:
        columns.extend(str(name) for name in item if name not in columns)
    rows = [[item.get(name, MISSING) for name in columns] for item in instances]
    return Payload(columns=columns, rows=rows, params=parameters, instances=True)


def _a(value: Any) -> str:
    """``value``'s JSON kind with its article, for messages: "an object", "a list", "a string"."""
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


def _parse_jsonlines(text: str) -> Payload:
    items = [_load_json(line, f"JSON line {number}") for number, line in enumerate(text.splitlines()) if line.strip()]
    return _records(items, "the JSON lines body")


def negotiate(accept: str | None) -> str:
    """The response type for an ``Accept`` header: JSON by default, CSV when asked; 406 otherwise."""
    if not accept:
        return JSON
    for part in accept.split(","):
        kind = media_type(part)
        if kind in RESPONSE_TYPES:
            return kind
        if kind in ("*/*", "application/*"):
            return JSON
        if kind == "text/*":
            return CSV
    raise NotAcceptableError(f"cannot answer with {accept!r}; this server writes {', '.join(RESPONSE_TYPES)}")


def response_format(header: str | None, default: str) -> str:
    """The response format a request asks for (its header, else the deployment's ``default``); 400 if unknown."""
    chosen = (header or default).strip().lower()
    if chosen not in RESPONSE_FORMATS:
        raise BadPayloadError(f"response format {chosen!r} is not one of {', '.join(RESPONSE_FORMATS)}")
    return chosen


def render_mlflow(scores: Scores, predict_fn: str) -> bytes:
    """What ``mlflow models serve`` answers: ``{"predictions": ...}`` holding the output of the model's pyfunc
    ``predict_fn`` (every class's probability per row for ``predict_proba``, else the predictions)."""
    if predict_fn == "predict_proba" and scores.class_probabilities is not None:
        return json.dumps({"predictions": scores.class_probabilities.tolist()}).encode()
    return json.dumps({"predictions": scores.predictions}).encode()


def render_vertex(scores: Scores) -> bytes:
    """Vertex AI's answer, ``{"predictions": [...]}`` with one object per instance holding that instance's entry of
    each field of the kit's JSON answer: ``prediction``, and for a classifier ``probability`` (binary: the positive
    class's; multiclass: one per class, in the order of ``classes``, which each object then also holds)."""
    predictions: list[dict[str, Any]] = []
    for row, prediction in enumerate(scores.predictions):
        answer: dict[str, Any] = {"prediction": prediction}
        if scores.probabilities is not None:
            answer["probability"] = scores.probabilities[row]
        if scores.classes is not None:
            answer["classes"] = scores.classes
        predictions.append(answer)
    return json.dumps({"predictions": predictions}).encode()


def render(scores: Scores, kind: str) -> bytes:
    """Predictions as the negotiated response body: JSON (:meth:`Scores.to_json`) or CSV, one row a line with
    the label then the probability column(s) of a classifier, no header (what batch transform joins)."""
    if kind == CSV:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows(scores.csv_fields(row) for row in range(len(scores)))
        return buffer.getvalue().encode()
    return json.dumps(scores.to_json()).encode()
