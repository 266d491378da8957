"""Safe YAML loading that remembers where every value came from.

PyYAML's constructed Python objects forget their source marks, yet every suite error must name
file, line and column. So we compose the node tree with the safe loader and build plain data
ourselves, keeping a map from each value's path (`("benchmarks", 0, "params", "n")`) to its mark.
Only plain data is accepted: tags that would construct objects are refused, duplicate keys are
errors instead of silently keeping the last one, and `1e-8` reads as a float (YAML 1.1 would make
it a string, a classic trap when writing step sizes). Hostile documents (alias bombs, cycles,
deep nesting, gigantic files) are refused before anything is built: see `yamllimits`.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labench.core.errors import InputError, shown
from labench.core.files import read_input
from labench.suite.yamllimits import MAX_BYTES, LimitedComposer, LimitedScanner, Refused

ValuePath = tuple[str | int, ...]

_PLAIN_TAGS = {
    "tag:yaml.org,2002:" + name for name in ("map", "seq", "str", "int", "float", "bool", "null")
}


_MERGE_TAG = "tag:yaml.org,2002:merge"
_Pair = tuple[yaml.Node, yaml.Node]


class _SuiteLoader(LimitedScanner, LimitedComposer, yaml.SafeLoader):
    """SafeLoader that also reads exponent floats without a dot, such as `1e-8`, and refuses
    documents beyond the limits of `yamllimits`."""


_SuiteLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


@dataclass(frozen=True)
class Location:
    """A place in a source file, 1-based as editors show it."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of a loaded document sits in its file."""

    file: str
    values: dict[ValuePath, Location] = field(default_factory=dict)
    keys: dict[ValuePath, Location] = field(default_factory=dict)

    def value(self, path: ValuePath) -> Location:
        """The value's own place, or that of its nearest ancestor (for a missing key)."""
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.values:
                return self.values[path[:cut]]
        return Location(self.file, 1, 1)

    def key(self, path: ValuePath) -> Location:
        """Where the key of a mapping entry is written: the right spot for 'unknown key'."""
        return self.keys.get(path) or self.value(path)


def _location(file: str, mark: yaml.Mark | None) -> Location:
    if mark is None:
        return Location(file, 1, 1)
    return Location(file, mark.line + 1, mark.column + 1)


def _syntax_error(file: str, error: yaml.MarkedYAMLError) -> InputError:
    where = _location(file, error.problem_mark or error.context_mark)
    problem = error.problem or "malformed YAML"
    if len(problem) > 160:  # PyYAML repeats what it found: an alias name may be pages long
        problem = problem[:157] + "..."
    if "\\t" in problem or "\t" in problem:
        problem = "a tab character; YAML indents with spaces only"
    context = ""
    if error.context and error.context_mark is not None:
        context = f" ({error.context} at line {error.context_mark.line + 1})"
    return InputError(f"{where}: invalid YAML: {problem}{context}")


_WHAT = {"int": "an integer", "float": "a number", "bool": "true or false"}


class _Builder:
    """Turns composed nodes into plain data while filling a SourceMap."""

    def __init__(self, loader: _SuiteLoader, source: SourceMap) -> None:
        self.loader = loader
        self.source = source

    def build(self, node: yaml.Node, path: ValuePath) -> Any:
        self.source.values[path] = _location(self.source.file, node.start_mark)
        if node.tag not in _PLAIN_TAGS:
            raise InputError(
                f"{self.source.values[path]}: the YAML tag {shown(node.tag)} is not allowed; "
                "a suite holds plain data only (mappings, lists, strings, numbers, booleans)"
            )
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        """A scalar's value; one Python cannot hold (an integer of 5,000 digits) is an error at
        its place, not a traceback."""
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, IndexError, KeyError) as error:  # IndexError: `!!int` of nothing
            shown = node.value if len(node.value) <= 20 else node.value[:20] + "..."
            reason = str(error).split(":")[0]
            if not isinstance(error, ValueError):  # PyYAML's constructors index the text
                kind = node.tag.rsplit(":", 1)[-1]
                reason = f"expected {_WHAT.get(kind, kind)} after the tag !!{kind}"
            raise InputError(
                f"{_location(self.source.file, node.start_mark)}: cannot read {shown!r}: {reason}"
            ) from None

    def _mapping(self, node: yaml.MappingNode, path: ValuePath) -> dict[Any, Any]:
        """Keys written in the mapping first (a repeated one is an error), then those merged
        in with `<<`, each only where no key of that name came before: as YAML specifies,
        written keys override merged ones and an earlier merged mapping a later one."""
        written, merged = self._pairs(node)
        result: dict[Any, Any] = {}
        for index, (key_node, value_node) in enumerate(written + merged):
            key_place = _location(self.source.file, key_node.start_mark)
            if not isinstance(key_node, yaml.ScalarNode):
                raise InputError(f"{key_place}: expected a plain key, got a {key_node.id}")
            key = self._scalar(key_node)
            key_path = (*path, key)
            if key in result:
                if index >= len(written):
                    continue
                first = self.source.keys[key_path]
                raise InputError(
                    f"{key_place}: duplicate key {shown(key)} (first written at line {first.line})"
                )
            self.source.keys[key_path] = key_place
            result[key] = self.build(value_node, key_path)
        return result

    def _pairs(self, node: yaml.MappingNode) -> tuple[list[_Pair], list[_Pair]]:
        """The mapping's own pairs, and those its merge keys bring in, in precedence order.
        PyYAML's `flatten_mapping` would mix the two (and rewrite shared nodes in place)."""
        written: list[_Pair] = []
        merged: list[_Pair] = []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                written.append((key_node, value_node))
                continue
            sources = (
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            )
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise InputError(
                        f"{_location(self.source.file, key_node.start_mark)}: a merge key '<<' "
                        f"takes a mapping or a list of mappings, got a {source.id}"
                    )
                own, inherited = self._pairs(source)
                merged += own + inherited
        return written, merged


def load_yaml(path: Path) -> tuple[Any, SourceMap]:
    """Read a YAML file into plain data plus the source map of its values; a gigantic file is
    refused by its size before it is read."""
    with contextlib.suppress(OSError):  # read_input words why the file cannot be read
        _refuse_oversized(path.stat().st_size, str(path))
    return parse_yaml(read_input(path, "suite file"), str(path))


def _refuse_oversized(size: int, file: str) -> None:
    if size > MAX_BYTES:
        raise InputError(
            f"{file}: {size:,} bytes, more than the {MAX_BYTES:,} a suite file may have; "
            "a suite of plain settings is a few kilobytes (is this the right file?)"
        )


def _unreadable(file: str, text: str, error: yaml.reader.ReaderError) -> InputError:
    """A character YAML does not allow (a control character, a lone surrogate), at its line
    and column, counted as PyYAML counts them."""
    before = text[: error.position]
    line_start = max(before.rfind(mark) for mark in "\n\r\x85\u2028\u2029") + 1
    where = Location(file, len(_LINE_BREAK.findall(before)) + 1, len(before) - line_start + 1)
    character = error.character if isinstance(error.character, int) else ord(error.character)
    return InputError(
        f"{where}: invalid YAML: the character U+{character:04X} is not allowed in a YAML file "
        "(a control character or an unpaired surrogate; is this a text file?)"
    )


_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse YAML text; `file` is only used to word locations."""
    _refuse_oversized(len(text.encode("utf-8", "surrogatepass")), file)
    source = SourceMap(file)
    try:
        loader = _SuiteLoader(text)  # checks every character before anything is parsed
    except yaml.reader.ReaderError as error:
        raise _unreadable(file, text, error) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, source
        return _Builder(loader, source).build(node, ()), source
    except Refused as refusal:
        raise InputError(f"{_location(file, refusal.mark)}: {refusal.reason}") from None
    except yaml.MarkedYAMLError as error:
        raise _syntax_error(file, error) from None
    except yaml.reader.ReaderError as error:
        raise _unreadable(file, text, error) from None
    except yaml.YAMLError as error:
        raise InputError(f"{file}: invalid YAML: {' '.join(str(error).split())}") from None
    finally:
        loader.dispose()
