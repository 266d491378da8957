import pytest

from labench.core.errors import InputError
from labench.suite.yamlsource import Location, parse_yaml


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


def test_an_anchor_shared_as_defaults_still_works():
    text = (
        "common: &common {max_time: 0.5, threads: [1, 2]}\n"
        "a: {<<: *common, id: a}\n"
        "b: {<<: *common, id: b, max_time: 2}\n"
    )
    data, _ = parse_yaml(text, "f.yaml")
    assert data["a"] == {"max_time": 0.5, "threads": [1, 2], "id": "a"}
    assert data["b"]["max_time"] == 2


@pytest.mark.parametrize(
    "text, expected",
    [
        ("x: &x {k: 1}\ny: &y {k: 2, j: 2}\nm: {<<: [*x, *y]}\n", {"k": 1, "j": 2}),
        ("b: &b {a: 1}\nmid: &mid {<<: *b, c: 2}\nm: {<<: *mid, a: 3}\n", {"a": 3, "c": 2}),
        ("b: &b {a: 1}\nm: {a: 0, <<: *b}\n", {"a": 0}),
    ],
    ids=["earlier merge wins", "merge of a merge, then overridden", "written before the merge"],
)
def test_merge_keys_follow_yaml_precedence(text, expected):
    assert parse_yaml(text, "f.yaml")[0]["m"] == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "b: &b {a: 1}\nm: {a: 0, <<: *b, a: 2}\n",
            "f.yaml:2:19: duplicate key 'a' (first written at line 2)",
        ),
        ("s: &s 5\nm: {<<: *s}\n", "f.yaml:2:5: a merge key '<<' takes a mapping or a list"),
    ],
)
def test_merges_do_not_excuse_bad_mappings(text, expected):
    with pytest.raises(InputError) as raised:
        parse_yaml(text, "f.yaml")
    assert str(raised.value).startswith(expected)


def test_aliases_within_the_limit_are_expanded():
    values = "[" + ", ".join(["1"] * 50) + "]"
    uses = ", ".join(["*v"] * 1_000)  # 51,000 values in all: under the limit
    data, _ = parse_yaml(f"v: &v {values}\nall: [{uses}]\n", "f.yaml")
    assert len(data["all"]) == 1_000 and data["all"][-1] == [1] * 50


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a: &a {b: 1, <<: *a}\n", "f.yaml:1:18: the alias *a stands for a value that contains"),
        ("a: &a [1, [2, *a]]\n", "f.yaml:1:15: the alias *a stands for a value that contains"),
        (
            "v: &v [" + ", ".join(["1"] * 100) + "]\nall: [" + ", ".join(["*v"] * 1_000) + "]\n",
            "f.yaml:2:7: the alias *v stands for 101 values (anchored at line 1); with every "
            "alias expanded the suite would hold 101,105 values, more than the 100,000",
        ),
        ("a: " + "[" * 70 + "]" * 70 + "\n", "f.yaml:1:68: values nested deeper than 64 levels"),
        (
            "".join("  " * level + f"k{level}:\n" for level in range(70)),
            "f.yaml:64:127: values nested deeper than 64 levels",
        ),
        ("a: b\n" + "c" * (64 * 1024), "f.yaml: 65,541 bytes, more than the 65,536"),
    ],
    ids=[
        "merge cycle",
        "list cycle",
        "too many values",
        "too deep",
        "too deep, block",
        "too large",
    ],
)
def test_hostile_yaml_is_refused_before_anything_is_built(text, expected):
    with pytest.raises(InputError) as raised:
        parse_yaml(text, "f.yaml")
    assert str(raised.value).startswith(expected)
