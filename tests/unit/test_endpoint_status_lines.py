"""``mlops endpoint status`` prints each fleet a hosting reports from the keys it has: SageMaker's variants carry no
process, Vertex AI's deployed models no version, the local runners everything (a missing key was a KeyError)."""

from __future__ import annotations

from mlops.cli.deploy import fleet_line


def test_a_sagemaker_variant_prints_its_weight() -> None:
    variant = {"variant": "AllTraffic", "weight": 1.0, "desired_weight": 1.0, "instances": 1}
    assert fleet_line(variant) == "  AllTraffic: weight 1"


def test_a_vertex_deployed_model_prints_its_traffic_share() -> None:
    assert fleet_line({"variant": "kit-model-v4", "fleet": "1234", "weight": 0.0}) == "  kit-model-v4/1234: weight 0"


def test_a_local_fleet_prints_its_process() -> None:
    fleet = {
        "variant": "AllTraffic",
        "fleet": "blue",
        "version": "3",
        "weight": 0.9,
        "pid": 42,
        "url": "http://127.0.0.1:9000",
        "running": False,
    }
    assert (
        fleet_line(fleet) == "  AllTraffic/blue: version 3, weight 0.9, pid 42 at http://127.0.0.1:9000 (not running)"
    )
