"""Bringing a dataset: the definition format documented from the model (Markdown reference and JSON Schema, both
fresh), `mlops data init` drafts that load back, the README's settings table lists every setting, and the datasets
directory is honoured from any working directory, by the CLI, the job scripts and the stack."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pydantic import BaseModel
from typer.testing import CliRunner

from mlops.cli.main import app
from mlops.dataset_draft import draft
from mlops.dataset_reference import EXAMPLE, render_json_schema, render_markdown
from mlops.datasets import (
    DATASETS_DIR_ENV,
    SHIPPED_DATASETS_DIR,
    DatasetDefinition,
    find_definition,
    load_definition,
    parse_definition,
    stack_definitions,
)
from mlops.errors import ConfigError
from mlops.settings import ENV_PREFIX, Settings
from tests.support.task_datasets import LABELS, TASKS, sample

REPO = Path(__file__).resolve().parents[3]


def test_the_committed_reference_and_json_schema_equal_a_fresh_render() -> None:
    assert (REPO / "docs" / "dataset-reference.md").read_text() == render_markdown(), (
        "run `mlops data schema --markdown --out docs/dataset-reference.md` and commit it"
    )
    assert (REPO / "docs" / "dataset.schema.json").read_text() == render_json_schema(), (
        "run `mlops data schema --out docs/dataset.schema.json` and commit it"
    )


def _fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, info in model.model_fields.items():
        out.append(prefix + name)
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            out.extend(_fields(nested, f"{prefix}{name}."))
    return out


def test_the_reference_names_every_field_of_the_model_and_its_example_loads() -> None:
    text = render_markdown()
    for dotted in _fields(DatasetDefinition):
        assert f"| `{dotted.rsplit('.', 1)[-1]}` |" in text, dotted
    for model in (DatasetDefinition,):
        assert model.__name__ in render_json_schema() or '"properties"' in render_json_schema()
    example = parse_definition(yaml.safe_load(EXAMPLE), "<reference example>")
    assert (example.task, example.label.positive_class) == ("binary", "cancer")


def test_the_json_schema_accepts_the_shipped_definitions_and_refuses_an_unknown_field() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(render_json_schema())
    for path in SHIPPED_DATASETS_DIR.glob("*.yaml"):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    raw = yaml.safe_load(EXAMPLE)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**raw, "labels": "typo"}, schema)


def _readme_table() -> str:
    readme = (REPO / "README.md").read_text()
    start = readme.index("| setting | variable | values |")
    return readme[start : readme.index("\n\n", start)]


def _member_fields(variable: str, family: type[BaseModel]) -> set[str]:
    """A family's members' own settings beyond ``type`` (the family row covers those): each needs its variable."""
    found: set[str] = set()
    for member, info in family.model_fields.items():
        model = info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            fields = [f for f in model.model_fields if f != "type"]
            found.update(f"{variable}__{member.upper()}__{f.upper()}" for f in fields)
    return found


def test_the_readme_settings_table_lists_every_setting_and_only_settings() -> None:
    table = _readme_table()
    listed = set(re.findall(r"`(MLOPS_[A-Z0-9_<>]+)`", table))
    expected: set[str] = {f"{ENV_PREFIX}CONFIG_FILE"}
    for name, info in Settings.model_fields.items():
        variable = f"{ENV_PREFIX}{name.upper()}"
        nested = info.annotation
        if not (isinstance(nested, type) and issubclass(nested, BaseModel)):
            expected.add(variable)
            continue
        placeholder = [v for v in listed if v.startswith(f"{variable}__<")]
        if placeholder:  # one row for a family (services): every member is named in it
            expected.update(placeholder)
            row = next(line for line in table.splitlines() if placeholder[0] in line)
            missing = [member for member in nested.model_fields if f"`{member}`" not in row]
            assert not missing, f"{placeholder[0]} row does not name {missing}"
            expected.update(_member_fields(variable, nested))
        else:
            expected.update(f"{variable}__{member.upper()}" for member in nested.model_fields)
    assert listed == expected


def test_the_shipped_definitions_are_found_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATASETS_DIR_ENV, raising=False)
    monkeypatch.delenv("MLOPS_CONFIG_FILE", raising=False)
    settings = Settings()
    assert find_definition("diabetes", settings.datasets_dir).task == "regression"
    result = CliRunner().invoke(app, ["data", "schema"], env={"MLOPS_STATE_DIR": str(tmp_path / "s")})
    assert result.exit_code == 0 and '"DatasetDefinition"' in result.stdout


def test_a_user_dataset_is_found_in_the_configured_directory_before_the_shipped_ones(tmp_path: Path) -> None:
    drafted = draft("tumours", sample("tumours", 80), "diagnosis")
    (tmp_path / "tumours.yaml").write_text(drafted.to_yaml("sample.csv"))
    assert find_definition("tumours", tmp_path).task == "binary"
    assert find_definition("card_transactions", tmp_path).task == "binary"  # shipped, still found
    with pytest.raises(
        ConfigError, match=r"unknown dataset 'nope'; defined in .*: card_transactions, diabetes, tumours"
    ):
        find_definition("nope", tmp_path)


def test_the_stack_deploys_the_shipped_and_the_configured_definitions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATASETS_DIR_ENV, raising=False)
    assert sorted(stack_definitions(REPO)) == ["card_transactions", "diabetes"]
    (tmp_path / "houses.yaml").write_text(draft("houses", sample("houses", 60), "price").to_yaml("s.csv"))
    monkeypatch.setenv(DATASETS_DIR_ENV, str(tmp_path))
    found = stack_definitions(REPO)
    assert sorted(found) == ["card_transactions", "diabetes", "houses"]
    assert found["houses"] == tmp_path / "houses.yaml"


def test_job_scripts_read_the_configured_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jobs._runtime import dataset_definition

    (tmp_path / "plants.yaml").write_text(draft("plants", sample("plants", 60)).to_yaml("s.csv"))
    monkeypatch.setenv(DATASETS_DIR_ENV, str(tmp_path))
    assert dataset_definition("plants", None).task == "multiclass"
    assert dataset_definition("diabetes", None).task == "regression"


@pytest.mark.parametrize("name", sorted(TASKS))
def test_data_init_drafts_a_definition_that_loads_back(tmp_path: Path, name: str) -> None:
    frame = sample(name, 200)
    frame.to_csv(tmp_path / f"{name}.csv", index=False)
    out = tmp_path / "defs" / f"{name}.yaml"
    label = ["--label", LABELS[name]] if name == "houses" else []  # the others' labels are guessed
    args = ["data", "init", name, "--from", str(tmp_path / f"{name}.csv"), "--out", str(out), *label, "--json"]
    result = CliRunner().invoke(app, args, env={"MLOPS_STATE_DIR": str(tmp_path / "s")})
    assert result.exit_code == 0, result.output
    definition = load_definition(out)
    assert (definition.task, definition.label.column) == (TASKS[name], LABELS[name])
    assert json.loads(result.stdout)["definition"]["task"] == TASKS[name]
    again = CliRunner().invoke(app, args, env={"MLOPS_STATE_DIR": str(tmp_path / "s")})
    assert again.exit_code != 0 and "exists: pass --force" in str(again.exception)


def test_the_draft_infers_types_ranges_categories_keys_time_and_the_positive_class() -> None:
    frame = sample("tumours", 300)
    frame.loc[3, "texture"] = None
    definition = draft("tumours", frame).definition
    assert (definition.primary_key, definition.entity_key, definition.event_time) == (
        ["record_id"],
        "patient_id",
        "seen_at",
    )
    assert definition.column("seen_at").type == "timestamp"
    assert definition.column("texture").nullable and not definition.column("size_mm").nullable
    assert definition.column("size_mm").min == frame["size_mm"].min()
    assert definition.column("site").allowed == ["breast", "lung", "skin"]
    assert definition.classes == ("cancer", "healthy") and definition.label.positive_class == "cancer"
    assert definition.feature_names == ["size_mm", "texture", "site"]
    ints = draft(
        "d", pd.DataFrame({"id": [1, 2, 3, 4], "at": ["2025-01-01"] * 4, "x": [1.0, 2, 3, 4], "y": [0, 1, 0, 0]})
    )
    assert ints.definition.column("at").type == "date"
    assert (ints.definition.task, ints.definition.label.positive_class) == ("binary", 1)


@pytest.mark.parametrize(
    ("frame", "label", "expected"),
    [
        (pd.DataFrame({"id": ["a", "b"], "x": [1, 2], "y": [0, 1]}), None, "no timestamp or date column"),
        (pd.DataFrame({"id": ["a"], "at": ["2025-01-01"], "x": [1], "y": [0]}), "z", "--label 'z' is not a column"),
        (pd.DataFrame({"Bad Name": [1], "at": ["2025-01-01"]}), None, "'Bad Name' are not lower snake case"),
        (pd.DataFrame({"id": ["a", "a"], "at": ["2025-01-01"] * 2, "x": [1, 2], "y": [0, 1]}), "y", "no column"),
    ],
)
def test_the_draft_says_what_the_sample_lacks(frame: pd.DataFrame, label: str | None, expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        draft("d", frame, label)


def test_a_local_job_run_hands_the_datasets_directory_to_the_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.local.glue_runner import _child_env

    class Clients:
        def subprocess_env(self) -> dict[str, str]:
            return {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(DATASETS_DIR_ENV, "mine")
    env = _child_env(Clients(), tmp_path / "result.json", "local[1]")  # type: ignore[arg-type]
    assert env[DATASETS_DIR_ENV] == str(tmp_path / "mine")  # absolute: the script runs elsewhere
    monkeypatch.delenv(DATASETS_DIR_ENV)
    assert DATASETS_DIR_ENV not in _child_env(Clients(), tmp_path / "result.json", "local[1]")  # type: ignore[arg-type]


def test_the_cli_hands_the_configured_directory_to_what_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.cli.context import CliContext

    (tmp_path / "defs").mkdir()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mlops.yaml").write_text("datasets_dir: defs\n")
    monkeypatch.setenv(DATASETS_DIR_ENV, "restored after the test")
    monkeypatch.delenv(DATASETS_DIR_ENV)
    monkeypatch.delenv("MLOPS_CONFIG_FILE", raising=False)
    assert CliContext().settings.datasets_dir == Path("defs")
    assert os.environ[DATASETS_DIR_ENV] == str(tmp_path / "defs")
