"""Fuzzing the input loaders: whatever bytes a user, a CI artifact or a killed run hands labench,
each loader either loads them or raises an InputError whose every problem is one non-empty line
naming the file, never another exception, within a second of CPU and bounded memory.

The targets are the suite loader (mutated shipped and hostile suites, and structures drawn from
the suite's JSON Schema), the result reader (mutations of a real result file), journal recovery
(truncation and bit flips of a real journal) and the pytest-benchmark reader.

Profiles (LABENCH_FUZZ_PROFILE): `ci`, the default, bounded so this file takes about a minute on
two cores; `campaign`, 100,000 inputs per property (LABENCH_FUZZ_EXAMPLES changes that), run by
`benchmarks/fuzz.py`. Each failure the fuzzer ever found is kept below as an explicit example.
"""

from __future__ import annotations

import copy
import gc
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from labench.core.errors import InputError
from labench.judge.history import build, from_store
from labench.results import reader
from labench.results.journal import Journal, TornRecordWarning, recover
from labench.results.store import opened, rebuild, store_path
from labench.results.views import load_run, to_pytest_benchmark
from labench.suite.load import load_suite, suite_from_text
from labench.suite.model import MAX_CASES, SuiteModel
from labench.workloads import BUILTIN

ROOT = Path(__file__).resolve().parent.parent
SUITES = sorted((ROOT / "labench" / "suites").glob("*.yaml"))
HOSTILE = sorted((ROOT / "tests" / "hostile").glob("*.yaml"))
RESULT_FILE = ROOT / "results" / "example-seed-claims-epyc-2core.json"

# --- profiles -----------------------------------------------------------------------------------

PROFILE_VARIABLE = "LABENCH_FUZZ_PROFILE"
EXAMPLES_VARIABLE = "LABENCH_FUZZ_EXAMPLES"
_COMMON: dict[str, Any] = {
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
    "print_blob": True,
}
# The deadline catches a hang; the bound of a second is checked on each load's CPU time, which
# other work on a shared machine does not inflate (see `loads_or_refuses`).
settings.register_profile(
    "ci", max_examples=100, deadline=timedelta(seconds=5), database=None, **_COMMON
)
settings.register_profile(
    "campaign",
    max_examples=int(os.environ.get(EXAMPLES_VARIABLE, "100000")),
    deadline=timedelta(seconds=5),
    **_COMMON,
)
PROFILE = os.environ.get(PROFILE_VARIABLE, "ci")


def budget(ci_examples: int) -> settings:
    """Settings of one property: `ci_examples` inputs under the ci profile, the profile's count
    otherwise. Not `load_profile`, which would change every other Hypothesis test too."""
    profile = settings.get_profile(PROFILE)
    return settings(profile, max_examples=ci_examples) if PROFILE == "ci" else settings(profile)


# --- the property -------------------------------------------------------------------------------

TRIED: Counter[str] = Counter()
"""Inputs tried per target in this process (benchmarks/fuzz.py reports them)."""
CPU_SECONDS = 1.0
MEMORY_GROWTH = 256 << 20


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


class Endless(BaseException):
    """A load ran far past its time: stopped, so a regression fails instead of hanging."""


def _stop(signum: int, frame: Any) -> None:
    raise Endless(f"still loading after {10 * CPU_SECONDS:.0f} s of CPU")


def loads_or_refuses(file: Path, load: Any) -> Any:
    """Call `load()`: it returns, or raises an InputError of clear lines that name `file`;
    never anything else, within CPU_SECONDS of CPU time and MEMORY_GROWTH of peak memory.

    CPU time, not wall time, so other work on a shared machine does not count; the garbage
    collector waits until the load is done, since a collection walks every object of the
    process (a long campaign's are many), not the load's; and a load over the limit is timed
    once more, so one stray pause on a busy machine fails nothing."""
    peak = _peak_rss()
    loaded, spent = _timed(file, load)
    if spent >= CPU_SECONDS:
        spent = min(spent, _timed(file, load)[1])
    assert spent < CPU_SECONDS, f"took {spent:.2f} s of CPU"
    grown = _peak_rss() - peak
    assert grown < MEMORY_GROWTH, f"peak memory grew by {grown >> 20} MiB"
    return loaded


def _timed(file: Path, load: Any) -> tuple[Any, float]:
    """What `load()` returns (None when it refuses, as it should), and its CPU seconds."""
    loaded = None
    timer = hasattr(signal, "setitimer")  # ITIMER_PROF counts this process's CPU time
    if timer:
        previous = signal.signal(signal.SIGPROF, _stop)
        signal.setitimer(signal.ITIMER_PROF, 10 * CPU_SECONDS)
    collecting = gc.isenabled()
    gc.disable()
    started = time.process_time()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TornRecordWarning)
            loaded = load()
    except InputError as error:
        assert_clear(error, file)
    finally:
        spent = time.process_time() - started
        if collecting:
            gc.enable()
        if timer:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, previous)
    return loaded, spent


def assert_clear(error: InputError, file: Path) -> None:
    """Every problem a non-empty line of reasonable length that names the file."""
    assert error.problems, "an InputError without a problem"
    for problem in error.problems:
        assert isinstance(problem, str) and problem.strip(), repr(problem)
        assert str(file) in problem, f"the problem does not name {file}: {problem!r}"
        assert "\n" not in problem and "\r" not in problem, f"not one line: {problem!r}"
        assert len(problem) <= 2_000, f"a problem of {len(problem):,} characters: {problem[:300]}"
        assert "Traceback" not in problem


# --- mutations of text --------------------------------------------------------------------------

# fmt: off
YAML_FEATURES = [
    "&a ", "*a", "&a [1, 2]", "<<: *a\n", "<<: [*a, *a]\n", "!!python/object:os.system ",
    "!!binary aGVsbG8=", "!!set {a, b}", "!!omap [a: 1]", "!!timestamp 2001-12-14", "!foo ",
    "!!str ", "!!int ", "!!float ", "!!null ", "!!map ", "!!seq ", "? ", "? [a, b]\n: c\n",
    "9" * 40, "9" * 5_000, "1e999", "-1e999", ".nan", ".inf", "-.inf", "0x1F", "0o17", "1_000",
    "0b101", "190:20:30", "~", "null", "yes", "no", "on", "off", "[" * 70 + "]" * 70,
    "{a: " * 70 + "1" + "}" * 70, "- " * 70 + "x", "\t", "\n\t- x", "%YAML 1.1\n---\n",
    "---\n", "\n...\n", "--- |\n  text\n", "|\n  block\n", ">-\n  folded\n", "'", '"', "\\",
    "#", ": ", ":", "- ", ",", "[", "]", "{", "}", "\x00", "\x07", "\ufeff", "\u2028", "\x85",
    "\ud800", "é", "\U0001f600", "\r\n", "\r", " " * 1_000, "a: b\n" * 500,
    "&x [&y [*x]]", "labench: 2\n", "max_cases: 1\n", "max_cases: 999999999999\n",
    "threads: [1, 2, 3, 4, 5, 6, 7, 8, max]\n", "n: [" + ", ".join(map(str, range(1, 200))) + "]",
    "workload: ':x'", "workload: '..a:b'", "workload: 'no_such_module_zz:W'",
    "workload: 'labench.core.errors:InputError'", "workload: 'labench:nothing'",
]
# fmt: on


@st.composite
def text_mutations(draw: Any, text: str) -> str:
    """`text` with a few edits: characters replaced, removed or inserted, YAML features pasted
    in, lines repeated or dropped, the end cut off."""
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["flip", "delete", "insert", "feature", "line", "truncate"]))
        if kind == "flip" and text:
            at = min(at, len(text) - 1)
            text = text[:at] + draw(st.characters(codec=None)) + text[at + 1 :]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        elif kind == "insert":
            text = text[:at] + draw(st.text(max_size=20)) + text[at:]
        elif kind == "feature":
            text = text[:at] + draw(st.sampled_from(YAML_FEATURES)) + text[at:]
        elif kind == "line":
            lines = text.split("\n")
            line = draw(st.integers(0, len(lines) - 1))
            how = draw(st.sampled_from(["repeat", "drop", "indent", "dedent"]))
            if how == "repeat":
                lines.insert(line, lines[line])
            elif how == "drop":
                del lines[line]
            elif how == "indent":
                lines[line] = "  " + lines[line]
            else:
                lines[line] = lines[line][2:]
            text = "\n".join(lines)
        else:
            text = text[:at]
    return text


@st.composite
def byte_mutations(draw: Any, data: bytes) -> bytes:
    """`data` with bits flipped, bytes replaced, inserted or removed, or cut short."""
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["bit", "byte", "insert", "delete", "truncate"]))
        if kind in ("bit", "byte") and data:
            at = min(at, len(data) - 1)
            value = data[at] ^ (1 << draw(st.integers(0, 7)))
            if kind == "byte":
                value = draw(st.integers(0, 255))
            data = data[:at] + bytes([value]) + data[at + 1 :]
        elif kind == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 16)) :]
        else:
            data = data[:at]
    return data


# --- mutations of JSON documents ----------------------------------------------------------------

_RAW = "\x00raw{}\x00"


def hostile_json_values() -> st.SearchStrategy[Any]:
    """Values a damaged or forged document may hold where a number, string or object belongs.
    Raw JSON text (huge integers, deep nesting, NaN) comes as ("raw", text)."""
    # fmt: off
    raw = st.sampled_from(
        [
            "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "-0", "0.0",
            "9" * 400, "9" * 5_000, "-" + "9" * 5_000, "1" + "0" * 4_300, "[" * 100 + "]" * 100,
            "[" * 100_000 + "]" * 100_000, '{"a":' * 5_000 + "1" + "}" * 5_000,
        ]
    ).map(lambda text: ("raw", text))
    plain = st.sampled_from(
        [
            None, True, False, 0, -1, 1, 2**31, 2**63, 2**64, -(2**63), 10**30, 0.0, -0.0,
            -1e-3, 1e-320, 1e308, -1e308, 5e-324, "", "x", "max", "ok", "warm", "labench.result/2",
            "labench.result/1", "labench.result/9", "\x00", "\ud800", [], {}, [1.0], [None],
            {"a": 1}, [[1.0, 2.0]], "x" * 100_000,
        ]
    )
    # fmt: on
    return st.one_of(
        plain,
        raw,
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(),
        st.text(max_size=30),
        st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=5),
    )


def _places(document: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a document (a long list only by its first three and last items)."""
    found = [path]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _places(value, (*path, key))
    elif isinstance(document, list):
        kept = sorted({*range(min(3, len(document))), len(document) - 1} - {-1})
        for index in kept:
            found += _places(document[index], (*path, index))
    return found


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


@st.composite
def document_mutations(draw: Any, document: Any, places: list[tuple[Any, ...]]) -> bytes:
    """A JSON document with a few values replaced, removed, duplicated or moved, as text (which
    may then be damaged as bytes)."""
    document = copy.deepcopy(document)
    raws: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(places))
        try:
            parent, last = _at(document, path[:-1]), path[-1] if path else None
            _at(document, path)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this place
        if path and not isinstance(parent, dict | list):
            continue  # an earlier edit put a string where this place was
        kind = draw(st.sampled_from(["set", "set", "delete", "duplicate", "move", "nest"]))
        if kind == "set" or not path:
            value = draw(hostile_json_values())
            if isinstance(value, tuple):
                raws.append(value[1])
                value = _RAW.format(len(raws) - 1)
            if path:
                parent[last] = value
            else:
                document = value
        elif kind == "delete":
            del parent[last]
        elif kind == "duplicate":
            if isinstance(parent, list):
                parent.insert(last, copy.deepcopy(parent[last]))
            else:  # the same key written twice, with another value
                raws.append(json.dumps(last))
                parent[_RAW.format(len(raws) - 1)] = draw(
                    hostile_json_values().filter(lambda value: not isinstance(value, tuple))
                )
        elif kind == "move":  # another part of the document put here
            try:
                parent[last] = copy.deepcopy(_at(document, draw(st.sampled_from(places))[:2]))
            except (KeyError, IndexError, TypeError):
                continue
        else:
            parent[last] = [parent[last]] if draw(st.booleans()) else {"value": parent[last]}
    text = json.dumps(document, indent=draw(st.sampled_from([None, 1])))
    for index, raw in enumerate(raws):
        text = text.replace(json.dumps(_RAW.format(index)), raw)
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = draw(byte_mutations(data))
    return data


# --- the suite loader ---------------------------------------------------------------------------

SUITE_TEXTS = {path.name: path.read_text(encoding="utf-8") for path in SUITES + HOSTILE}


def check_suite_bytes(data: bytes) -> None:
    """Both ways a suite is read: from its file, and as text sent to a worker."""
    TRIED["suite"] += 1
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "suite.yaml"
        path.write_bytes(data)
        loads_or_refuses(path, lambda: load_suite(path))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return
        loads_or_refuses(path, lambda: suite_from_text(text, path, "0" * 64, None))


@budget(400)
@given(st.sampled_from(sorted(SUITE_TEXTS)).flatmap(lambda name: text_mutations(SUITE_TEXTS[name])))
# A control character: PyYAML's ReaderError escaped from the loader's constructor, outside the
# handler of YAML errors.
@example("\x1f" + SUITE_TEXTS["alias_cycle.yaml"][1:])
# An explicit tag on nothing, or on what it cannot be: PyYAML's IndexError and KeyError escaped.
@example("!!int ")
@example("labench: !!bool maybe")
# A value thousands of characters long repeated in full in the message ("got '9999...'").
@example(SUITE_TEXTS["huge_integer.yaml"].replace("9" * 400, "9" * 200 + "\xc0" + "9" * 199, 1))
# A suite allowing 10^12 cases: checking the points of its 10^10-point sweep never ended.
@example(
    SUITE_TEXTS["sweep_explodes.yaml"].replace(
        "\nbenchmarks:", "\nmax_cases: 999999999999\nbenchmarks:", 1
    )
)
# An undefined alias of 5,000 characters, which PyYAML's message repeats in full.
@example(SUITE_TEXTS["billion_laughs.yaml"].split("e: &e [*d, *")[0] + "e: &e [*d, *" + "9" * 5_000)
# An anchor's name of 3,000 characters, repeated in full in the refusal of its cycle.
@example(
    SUITE_TEXTS["alias_cycle.yaml"]
    .replace("&defaults", "&" + "d" * 3_000)
    .replace("*defaults", "*" + "d" * 3_000)
)
# A workload name of two thousand characters repeated in full ("unknown workload 'k [[[[...'").
@example(SUITE_TEXTS["deep_nesting.yaml"].replace("ernels.matmul\n    params: {n: ", " ", 1))
def test_mutated_suite_texts_load_or_are_refused(text: str) -> None:
    check_suite_bytes(text.encode("utf-8", "surrogatepass"))


@budget(200)
@given(
    st.sampled_from(sorted(SUITE_TEXTS)).flatmap(
        lambda name: byte_mutations(SUITE_TEXTS[name].encode("utf-8"))
    )
)
def test_mutated_suite_bytes_load_or_are_refused(data: bytes) -> None:
    check_suite_bytes(data)


# Structures drawn from the JSON Schema `labench schema` prints (hypothesis-jsonschema does not
# run with the Hypothesis of today): each value of the right shape, or now and then a wrong one,
# with names that refer to real workloads, parameters, implementations and benchmarks.


def rarely(usual: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`usual` 49 times in 50, else `other`: a suite holds a few dozen values, so each must be
    wrong rarely for a good share of the suites to get past the structure to the meaning."""
    return st.integers(0, 49).flatmap(lambda roll: other if roll == 25 else usual)


WORKLOADS = sorted(BUILTIN)
PARAMETERS = sorted({name for workload in BUILTIN.values() for name in workload.params})
IMPLEMENTATIONS = sorted(
    {name for workload in BUILTIN.values() for name in workload().implementations}
)
IDS = ["a", "b", "matmul"]
SAFE_USER_WORKLOADS = [
    "",
    ":",
    ":X",
    "..a:b",
    ".a:b",
    "a..b:C",
    "no_such_module_zz:W",
    "labench:nothing",
    "labench.core.errors:InputError",
    "labench.workloads:BUILTIN",
    "kernels.matmull",
]
anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=10,
)
param_values = st.one_of(
    st.integers(-3, 5_000),
    st.integers(),
    st.floats(),
    st.sampled_from([None, True, "poly", "flat", "x", 2**63, -(2**63) - 1, 10**40, 10**400]),
    st.lists(st.integers(1, 300), max_size=6),
    st.lists(anything, max_size=3),
)
OVERRIDES: dict[str, st.SearchStrategy[Any]] = {
    "workload": rarely(
        st.sampled_from(WORKLOADS),
        st.sampled_from(SAFE_USER_WORKLOADS) | st.text(max_size=15).filter(lambda t: ":" not in t),
    ),
    "params": st.dictionaries(
        rarely(st.sampled_from(PARAMETERS), st.text(max_size=5)), param_values, max_size=4
    ),
    "where": st.dictionaries(
        st.sampled_from([*PARAMETERS, "threads", "dtype", "math", "cache"]),
        param_values,
        max_size=3,
    ),
    "implementation": st.sampled_from(IMPLEMENTATIONS),
    "implementations": st.lists(
        rarely(st.sampled_from(IMPLEMENTATIONS), st.text(max_size=5)), min_size=1, max_size=4
    ),
    "baseline": st.sampled_from(IMPLEMENTATIONS),
    "benchmark": st.sampled_from(IDS),
    "id": st.sampled_from(IDS),
    "name": st.sampled_from([*IDS, "time", "first_call", "error_rel", "gflops"]),
    "max_cases": rarely(st.integers(1, MAX_CASES), st.integers(MAX_CASES, 10**12)),
}


def from_schema(node: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> Any:
    """A strategy for `node` of a pydantic JSON Schema, covering what the suite schema uses."""
    if "$ref" in node:
        return from_schema(defs[node["$ref"].rsplit("/", 1)[-1]], defs, depth)
    if "anyOf" in node:
        return st.one_of([from_schema(option, defs, depth) for option in node["anyOf"]])
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    if kind == "object":
        properties = node.get("properties", {})
        required = set(node.get("required", ()))
        strategies = {
            name: right_or_wrong(
                OVERRIDES[name] if name in OVERRIDES else from_schema(value, defs, depth + 1)
            )
            for name, value in properties.items()
        }
        if not properties:
            return st.dictionaries(st.text(max_size=8), anything, max_size=3)
        mapping = st.fixed_dictionaries(
            {name: strategies[name] for name in properties if name in required},
            optional={name: strategies[name] for name in properties if name not in required},
        )
        return rarely(
            mapping,
            st.tuples(mapping, st.sampled_from(["nmae", "extra"]), anything).map(
                lambda drawn: {**drawn[0], drawn[1]: drawn[2]}
            ),
        )
    if kind == "array":
        items = from_schema(node.get("items", {}), defs, depth + 1)
        most = 3 if depth else 4
        return rarely(
            st.lists(items, min_size=max(1, node.get("minItems", 0)), max_size=most),
            st.lists(items, min_size=node.get("minItems", 0), max_size=most),
        )
    if kind == "integer":
        low = node.get("minimum")
        high = node.get("maximum")
        return rarely(st.integers(low, high), st.sampled_from([low or 0, high or 10**9, -1, 0]))
    if kind == "number":
        low = node.get("minimum", node.get("exclusiveMinimum"))
        high = node.get("maximum", node.get("exclusiveMaximum"))
        return rarely(
            st.floats(
                low,
                high,
                allow_nan=False,
                exclude_min="exclusiveMinimum" in node,
                exclude_max="exclusiveMaximum" in node,
            ),
            st.sampled_from(
                [low or 0.0, high or 1e300, -1.0, 0.0, 1e-300, float("inf"), float("nan")]
            ),
        )
    if kind == "string":
        if "pattern" in node:
            return st.from_regex(node["pattern"], fullmatch=True).map(lambda s: s[:100])
        return st.text(max_size=20)
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    return anything


def right_or_wrong(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly values of the right shape, sometimes any value at all."""
    return rarely(strategy, anything)


SCHEMA = SuiteModel.model_json_schema()
schema_suites = from_schema(SCHEMA, SCHEMA["$defs"])


@budget(300)
@given(schema_suites, st.sampled_from([None, False, True]))
# `module:Class` with no module, or a relative one: importlib's ValueError and TypeError escaped.
@example({"labench": 1, "name": "a", "benchmarks": [{"id": "a", "workload": ":X"}]}, None)
@example({"labench": 1, "name": "a", "benchmarks": [{"id": "a", "workload": "..a:b"}]}, None)
# A number parameter beyond 64 bits: np.isfinite raised TypeError.
@example(
    {
        "labench": 1,
        "name": "a",
        "benchmarks": [
            {"id": "a", "workload": "gradients.least_squares"},
            {
                "id": "b",
                "workload": "regression.ridge",
                "threads": "max",
                "baseline": "analytic",
                "dtype": None,
                "params": {"cond": -9223372036854775809},
            },
        ],
    },
    None,
)
# An implementation named with a line break, listed raw in the baseline's problem: two lines.
@example(
    {
        "labench": 1,
        "name": "a",
        "benchmarks": [
            {"id": "a", "workload": "gradients.least_squares"},
            {
                "id": "b",
                "workload": "gradients.least_squares",
                "threads": "max",
                "baseline": "analytic",
                "implementations": ["\n"],
            },
        ],
    },
    None,
)
# A size of 400 digits: its footprint in GiB overflowed a float (OverflowError).
@example(
    {
        "labench": 1,
        "name": "a",
        "benchmarks": [{"id": "a", "workload": "kernels.matmul", "params": {"n": 10**400}}],
    },
    None,
)
def test_suites_drawn_from_the_schema_load_or_are_refused(suite: Any, flow: bool | None) -> None:
    text = yaml.safe_dump(suite, default_flow_style=flow, allow_unicode=True, sort_keys=False)
    check_suite_bytes(text.encode("utf-8", "surrogatepass"))


# --- the result reader --------------------------------------------------------------------------

RESULT_DOCUMENT = json.loads(RESULT_FILE.read_text(encoding="utf-8"))
RESULT_PLACES = _places(RESULT_DOCUMENT)


def check_result_bytes(data: bytes) -> None:
    TRIED["result"] += 1
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.json"
        path.write_bytes(data)
        loads_or_refuses(path, lambda: reader.load(path))
        loads_or_refuses(path, lambda: load_run(path))


@budget(300)
@given(document_mutations(RESULT_DOCUMENT, RESULT_PLACES))
# An integer of 5,000 digits: json.loads raised a plain ValueError (Python's limit on digits).
@example(b"9" * 5_000)
def test_mutated_result_files_load_or_are_refused(data: bytes) -> None:
    check_result_bytes(data)


@budget(100)
@given(st.integers(0, len(RESULT_FILE.read_bytes())))
def test_a_result_file_cut_at_any_byte_loads_or_is_refused(at: int) -> None:
    check_result_bytes(RESULT_FILE.read_bytes()[:at])


# --- journal recovery ---------------------------------------------------------------------------


def _journal() -> tuple[str, bytes]:
    """A real run's result file as its run started (one case done), and the journal that run
    left when it was killed with three more cases done."""
    result = reader.load(RESULT_FILE)
    cases = [case for case in result.cases if case.timing is not None][:4]
    result.run.finished = None
    result.cases = cases[:1]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.json"
        journal = Journal.start(result, path)
        for case in cases[1:]:
            journal.append(case)
        journal.close()
        return result.to_json(), journal.path.read_bytes()


STARTED_RESULT, JOURNAL = _journal()


def check_journal_bytes(data: bytes) -> None:
    TRIED["journal"] += 1
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.json"
        path.write_text(STARTED_RESULT, encoding="utf-8")
        (Path(folder) / "run.json.journal").write_bytes(data)
        loads_or_refuses(path, lambda: recover(path))
        loads_or_refuses(path, lambda: reader.load(path))


@budget(300)
@given(byte_mutations(JOURNAL))
def test_a_damaged_journal_is_recovered_or_refused(data: bytes) -> None:
    check_journal_bytes(data)


@budget(100)
@given(st.integers(0, len(JOURNAL)))
def test_a_journal_cut_at_any_byte_is_recovered_or_refused(at: int) -> None:
    check_journal_bytes(JOURNAL[:at])


JOURNAL_LINES = [json.loads(line) for line in JOURNAL.splitlines()]

# --- the results store (history's input) ----------------------------------------------------


def _store() -> tuple[list[tuple[str, bytes]], bytes]:
    """Three runs of a real result (rescaled) and the store that indexes them."""
    result = reader.load(RESULT_FILE)
    files = []
    with tempfile.TemporaryDirectory() as folder:
        for index in range(3):
            result.run.id = f"run{index}"
            result.run.started = f"2026-01-0{index + 1}T00:00:00+00:00"
            path = Path(folder) / f"run{index}.json"
            path.write_text(result.to_json(), encoding="utf-8")
            files.append((path.name, path.read_bytes()))
        rebuild(Path(folder))
        return files, store_path(Path(folder)).read_bytes()


STORE_FILES, STORE = _store()


def check_store_bytes(data: bytes) -> None:
    """A folder of sound result files whose store is `data`: `labench history` reads it, or
    refuses it in one paragraph naming the store (with the command that rebuilds it)."""
    TRIED["store"] += 1
    with tempfile.TemporaryDirectory() as folder:
        for name, content in STORE_FILES:
            (Path(folder) / name).write_bytes(content)
        store = store_path(Path(folder))
        store.write_bytes(data)

        def history() -> object:
            with opened(Path(folder)) as indexed:
                return build(from_store(indexed), repository=Path(folder))

        loads_or_refuses(store, history)


@budget(150)
@given(byte_mutations(STORE))
# A quote in the stored schema: SQLite's message quoted the schema over several lines.
@example(STORE.replace(b",\n    process_medians", b'"\n    process_medians', 1))
# A byte that is not UTF-8 in a stored name: sqlite3 raised UnicodeDecodeError.
@example(STORE.replace(b"indexcases_by_series", b"index\xe3ases_by_series", 1))
def test_a_damaged_store_is_read_or_refused(data: bytes) -> None:
    check_store_bytes(data)


@budget(60)
@given(st.integers(0, len(STORE)))
def test_a_store_cut_at_any_byte_is_read_or_refused(at: int) -> None:
    check_store_bytes(STORE[:at])



@budget(200)
@given(
    st.integers(0, len(JOURNAL_LINES) - 1).flatmap(
        lambda line: st.tuples(
            st.just(line), document_mutations(JOURNAL_LINES[line], _places(JOURNAL_LINES[line]))
        )
    ),
    st.booleans(),
)
# A record nested too deeply, or with an integer too long: RecursionError and ValueError escaped.
@example((0, b"[" * 100_000 + b"]" * 100_000), False)
@example((0, b"9" * 5_000), False)
# A case journaled twice under a key with a line break, repeated raw in the problem.
@example((1, json.dumps({**JOURNAL_LINES[1], "key": "a\nb"}).encode()), True)
def test_a_journal_with_a_forged_record_is_recovered_or_refused(
    forged: tuple[int, bytes], twice: bool
) -> None:
    """One record replaced by a forgery, which is then journaled `twice` or once."""
    line, data = forged
    lines = JOURNAL.splitlines()
    lines[line] = data.replace(b"\n", b" ")
    if twice:
        lines.insert(line, lines[line])
    check_journal_bytes(b"\n".join(lines) + b"\n")


# --- the pytest-benchmark reader ----------------------------------------------------------------


def _pytest_benchmark_document() -> dict[str, Any]:
    """What `pytest --benchmark-json` writes (pytest-benchmark 5), two benchmarks."""

    def stats(median: float, data: list[float]) -> dict[str, Any]:
        return {
            "min": min(data),
            "max": max(data),
            "mean": sum(data) / len(data),
            "stddev": 1e-5,
            "rounds": len(data),
            "median": median,
            "iqr": 2e-5,
            "q1": 1e-4,
            "q3": 1.2e-4,
            "iqr_outliers": 0,
            "stddev_outliers": 1,
            "outliers": "1;0",
            "ld15iqr": min(data),
            "hd15iqr": max(data),
            "ops": 9000.0,
            "total": sum(data),
            "data": data,
            "iterations": 1,
        }

    def benchmark(name: str, median: float) -> dict[str, Any]:
        data = [median * (1 + 0.01 * k) for k in (-2, -1, 0, 1, 2)]
        return {
            "group": None,
            "name": f"test_matmul[{name}]",
            "fullname": f"tests/test_bench.py::test_matmul[{name}]",
            "params": {"n": name},
            "param": name,
            "extra_info": {},
            "options": {
                "disable_gc": False,
                "timer": "perf_counter",
                "min_rounds": 5,
                "max_time": 1.0,
                "min_time": 5e-06,
                "warmup": False,
            },
            "stats": stats(median, data),
        }

    return {
        "machine_info": {
            "node": "ci-runner",
            "processor": "x86_64",
            "machine": "x86_64",
            "python_compiler": "GCC 12.2.0",
            "python_implementation": "CPython",
            "python_implementation_version": "3.11.7",
            "python_version": "3.11.7",
            "python_build": ["main", "Dec  4 2023 18:10:11"],
            "release": "6.1.0-18-amd64",
            "system": "Linux",
            "cpu": {
                "python_version": "3.11.7.final.0 (64 bit)",
                "cpuinfo_version": [9, 0, 0],
                "arch": "X86_64",
                "bits": 64,
                "count": 2,
                "arch_string_raw": "x86_64",
                "vendor_id_raw": "AuthenticAMD",
                "brand_raw": "AMD EPYC 7B13",
                "l2_cache_size": 1048576,
                "flags": ["avx", "avx2", "fma"],
            },
        },
        "commit_info": {
            "id": "0" * 40,
            "time": "2026-01-01T00:00:00+00:00",
            "dirty": False,
            "project": "labench",
            "branch": "main",
        },
        "benchmarks": [benchmark("64", 1.1e-4), benchmark("256", 3.3e-3)],
        "datetime": "2026-01-01T00:00:01.000000+00:00",
        "version": "5.1.0",
    }


PYTEST_DOCUMENTS = [
    _pytest_benchmark_document(),
    to_pytest_benchmark(reader.load(RESULT_FILE)),
]


def check_pytest_benchmark_bytes(data: bytes) -> None:
    TRIED["pytest-benchmark"] += 1
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pytest-benchmark.json"
        path.write_bytes(data)
        loads_or_refuses(path, lambda: load_run(path))


@budget(300)
@given(
    st.sampled_from(PYTEST_DOCUMENTS).flatmap(
        lambda document: document_mutations(document, _places(document))
    )
)
def test_mutated_pytest_benchmark_files_load_or_are_refused(data: bytes) -> None:
    check_pytest_benchmark_bytes(data)


# --- end to end ---------------------------------------------------------------------------------


def test_the_unmutated_inputs_load() -> None:
    """The properties start from inputs that load, so every refusal is the mutation's doing."""
    for path in SUITES:
        load_suite(path)
    assert reader.load(RESULT_FILE).cases
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.json"
        path.write_text(STARTED_RESULT, encoding="utf-8")
        (Path(folder) / "run.json.journal").write_bytes(JOURNAL)
        assert len(recover(path).cases) == 4
        for document in PYTEST_DOCUMENTS:
            path.write_text(json.dumps(document), encoding="utf-8")
            assert load_run(path).cases


def _cli_cases() -> dict[str, tuple[str, dict[str, bytes]]]:
    """Shrunk failures, as files: name -> (command, {file name: content}); the first file is
    the one named on the command line."""
    deep_journal = JOURNAL.splitlines()
    deep_journal[0] = b"[" * 100_000 + b"]" * 100_000
    return {
        "control-character": (
            "validate",
            {"suite.yaml": b"\x1f" + SUITE_TEXTS["alias_cycle.yaml"][1:].encode()},
        ),
        "module-less-workload": (
            "validate",
            {"suite.yaml": b"labench: 1\nname: a\nbenchmarks:\n  - {id: a, workload: ':X'}\n"},
        ),
        "long-workload-name": (
            "validate",
            {
                "suite.yaml": SUITE_TEXTS["deep_nesting.yaml"]
                .replace("ernels.matmul\n    params: {n: ", " ", 1)
                .encode()
            },
        ),
        "endless-max-cases": (
            "validate",
            {
                "suite.yaml": SUITE_TEXTS["sweep_explodes.yaml"]
                .replace("\nbenchmarks:", "\nmax_cases: 999999999999\nbenchmarks:", 1)
                .encode()
            },
        ),
        "empty-tagged-integer": ("validate", {"suite.yaml": b"!!int "}),
        "huge-integer-result": ("show", {"run.json": b"9" * 5_000}),
        "deep-journal": (
            "show",
            {"run.json": STARTED_RESULT.encode(), "run.json.journal": b"\n".join(deep_journal)},
        ),
    }


CLI_CASES = _cli_cases()


def test_the_cli_refuses_shrunk_examples_in_one_paragraph() -> None:
    """`labench validate` and `labench show` in processes of their own (started together, since
    each spends a second importing): exit 2, a paragraph of `error:` lines naming the file on
    stderr, no traceback."""
    with tempfile.TemporaryDirectory() as folder:
        started = {}
        for name, (command, files) in CLI_CASES.items():
            (Path(folder) / name).mkdir()
            for file, content in files.items():
                (Path(folder) / name / file).write_bytes(content)
            named = Path(folder) / name / next(iter(files))
            started[name] = (
                named,
                subprocess.Popen(
                    [sys.executable, "-m", "labench", command, str(named)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=os.environ | {"XDG_CACHE_HOME": folder, "COLUMNS": "80"},
                ),
            )
        for name, (named, process) in started.items():
            stdout, stderr = process.communicate(timeout=120)
            assert process.returncode == 2, (name, stdout + stderr)
            assert "Traceback" not in stdout + stderr, (name, stderr)
            lines = stderr.rstrip("\n").split("\n")
            assert all(line.startswith("error: ") for line in lines), (name, stderr)
            assert all(str(named) in line for line in lines), (name, stderr)
