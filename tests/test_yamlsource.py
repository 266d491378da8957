import pytest

from labench.errors import InputError
from labench.yamlsource import Location, parse_yaml


def test_values_and_keys_keep_their_line_and_column():
    data, source = parse_yaml("a:\n  b: [1, 2]\n  c: x\n", "f.yaml")
    assert data == {"a": {"b": [1, 2], "c": "x"}}
    assert source.value(("a", "b", 1)) == Location("f.yaml", 2, 10)
    assert source.key(("a", "c")) == Location("f.yaml", 3, 3)
    assert source.value(("a", "missing")) == source.value(("a",))


@pytest.mark.parametrize(
    "text, value",
    [
        ("h: 1e-8", 1e-8),
        ("h: 1.5E+3", 1500.0),
        ("h: -2e3", -2000.0),
        ("h: 12", 12),
        ("h: '1e-8'", "1e-8"),
    ],
)
def test_exponent_floats_without_a_dot_are_numbers(text, value):
    assert parse_yaml(text, "f.yaml")[0] == {"h": value}
    assert type(parse_yaml(text, "f.yaml")[0]["h"]) is type(value)


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "a:\n\tb: 1\n",
            "f.yaml:2:1: invalid YAML: a tab character; YAML indents with spaces only",
        ),
        ("a: [1, 2\n", "f.yaml:2:1: invalid YAML: expected ',' or ']'"),
        ("a: 1\nb: 2\na: 3\n", "f.yaml:3:1: duplicate key 'a' (first written at line 1)"),
        ("a: !!python/object/apply:os.system ['true']\n", "f.yaml:1:4: the YAML tag"),
        ("? [1, 2]\n: x\n", "f.yaml:1:3: expected a plain key"),
    ],
)
def test_malformed_yaml_is_located(text, expected):
    with pytest.raises(InputError) as raised:
        parse_yaml(text, "f.yaml")
    assert str(raised.value).startswith(expected)


def test_object_constructing_tags_are_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(InputError):
        parse_yaml(f"x: !!python/object/apply:os.system ['touch {marker}']\n", "f.yaml")
    assert not marker.exists()
