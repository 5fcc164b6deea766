"""KEY=VALUE options of the CLI (``mlops job run --arg``, ``mlops train --hp``): one parser, exact errors."""

from __future__ import annotations

import pytest

from mlops.cli.context import key_value_pairs
from mlops.cli.job import parse_arguments
from mlops.errors import ConfigError


def test_the_first_equals_sign_splits_and_keys_are_stripped() -> None:
    assert key_value_pairs([" a =1", "b=x=y", "c="], "--hp", "name=value") == {"a": "1", "b": "x=y", "c": ""}


@pytest.mark.parametrize("pair", ["lr", "=3", " =3"])
def test_a_pair_without_key_or_equals_sign_is_refused_by_name(pair: str) -> None:
    with pytest.raises(ConfigError) as caught:
        key_value_pairs([pair], "--hp", "name=value")
    assert str(caught.value) == f"--hp {pair!r} must look like name=value"


def test_a_glue_argument_with_only_its_dashes_as_key_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_arguments(["--=x"])
    assert str(caught.value) == "--arg '=x' must look like KEY=VALUE (e.g. --arg dataset=card_transactions)"
