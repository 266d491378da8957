"""The JSON Schema `labench schema` prints for editors accepts exactly what the suite model
accepts on the swept axes: an editor that shows a suite as valid must not see it refused."""

import math

import pytest
from pydantic import ValidationError

from labench.suite.model import Measurement, SuiteModel

SWEPT = ("threads", "dtype", "math", "cache")
VALUES = [
    None, [], 1, 2, 0, -1, True, "max", [1, "max"], [0], [2, 2], [[1]],
    "float64", ["float64", "float32"], "float8", ["float8"], ["float64", 3],
    "ieee", ["tf32"], "warm", ["warm", "cold"], "hot", {"a": 1},
]


def accepts(node, value):
    """Whether `value` is valid under `node`, for the schema keywords the suite's axes use."""
    if "anyOf" in node:
        return any(accepts(branch, value) for branch in node["anyOf"])
    if "const" in node:
        return value == node["const"] and type(value) is type(node["const"])
    if "enum" in node:
        return any(value == item and type(value) is type(item) for item in node["enum"])
    kind = node["type"]
    if kind == "null":
        return value is None
    if kind == "integer":
        minimum = node.get("minimum", -math.inf)
        return isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    if kind == "array":
        return (
            isinstance(value, list)
            and len(value) >= node.get("minItems", 0)
            and all(accepts(node["items"], item) for item in value)
        )
    raise AssertionError(f"a schema keyword this check does not know: {node}")


def model_accepts(field, value):
    try:
        Measurement.model_validate({field: value})
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("field", SWEPT)
def test_schema_and_model_agree_on_every_swept_axis(field):
    schema = SuiteModel.model_json_schema()["$defs"]["Measurement"]["properties"][field]
    disagree = [
        value for value in VALUES if accepts(schema, value) != model_accepts(field, value)
    ]
    assert disagree == []


def test_an_empty_list_is_refused_by_both():
    schema = SuiteModel.model_json_schema()["$defs"]["Measurement"]["properties"]
    for field in SWEPT:
        assert not accepts(schema[field], []) and not model_accepts(field, [])
