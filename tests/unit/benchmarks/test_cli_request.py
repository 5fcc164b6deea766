"""benchmarks/cli.py scores the first customer of the demo's data: the demo writes its CSV with quoted fields."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.cli import request_file


def test_the_request_names_the_first_customer_of_a_quoted_csv(tmp_path: Path) -> None:
    demo = tmp_path / "state" / "demo"
    demo.mkdir(parents=True)
    (demo / "transactions-q1.csv").write_text(
        '"transaction_id","customer_id","amount"\n"txn-1","cust-350",29.02\n"txn-2","cust-7",3.5\n'
    )
    request_file(tmp_path / "state", tmp_path)
    assert json.loads((tmp_path / "request.json").read_text()) == {"dataframe_records": [{"customer_id": "cust-350"}]}


def test_without_the_demo_s_data_the_request_names_a_placeholder_customer(tmp_path: Path) -> None:
    request_file(tmp_path / "state", tmp_path)
    assert json.loads((tmp_path / "request.json").read_text()) == {"dataframe_records": [{"customer_id": "c0"}]}
