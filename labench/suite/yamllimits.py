"""Limits on a YAML document, checked while it is scanned and composed, before any value is built.

A suite is a few kilobytes of plain settings, yet YAML lets a small file stand for an enormous
or endless document: an alias re-uses a node, so a dozen lines of aliases of aliases stand for
10^8 values ("billion laughs"); an alias inside its own anchor makes a cycle; deep nesting
exhausts Python's recursion. PyYAML composes an alias as a shared node, which costs nothing;
only building plain data expands it. So the scanner and composer here refuse deep nesting as
they read, remember where each alias is written, and measure the finished node graph (its size
with every alias expanded, and its depth) without expanding anything. Refusals carry the mark of
the alias or node to blame; `yamlsource` words them with the file name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

MAX_BYTES = 64 * 1024
"""A suite file's size limit: 16 times the largest shipped suite, room for a 10,000-value sweep
list, and about what PyYAML's pure Python loader reads in a second on a small busy machine (a
dense list of one-character values, its slowest case, takes a few)."""
MAX_VALUES = 100_000
"""Values (mappings, lists, keys and scalars) a suite may hold once every alias is expanded:
ten times the default case limit, so any sweep a suite may run fits. Above MAX_BYTES, so only
aliases can reach it."""
MAX_DEPTH = 64
"""Nesting levels a suite may use; a real suite needs fewer than ten."""


class Refused(Exception):
    """The document breaks a limit; `mark` is where, `reason` says which and why."""

    def __init__(self, mark: yaml.Mark | None, reason: str) -> None:
        super().__init__(reason)
        self.mark = mark
        self.reason = reason


@dataclass(frozen=True)
class _Alias:
    """One `*name` in the text: where it is written and the node it stands for."""

    name: str
    mark: yaml.Mark
    node: yaml.Node


_TOO_DEEP = (
    f"values nested deeper than {MAX_DEPTH} levels; a suite needs fewer than ten "
    "(is this file a suite?)"
)


class LimitedScanner(yaml.scanner.Scanner):
    """A scanner (mixed into a loader) that refuses flow nesting (`[[[[...`) as it reads it.
    At every open bracket PyYAML looks up to 1,024 characters ahead for a possible key, so deep
    nesting on one line costs a second or two of scanning before the composer could refuse it."""

    def fetch_flow_collection_start(self, TokenClass: type[yaml.Token]) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise Refused(self.get_mark(), _TOO_DEEP)
        super().fetch_flow_collection_start(TokenClass)


class LimitedComposer(yaml.composer.Composer):
    """A composer (mixed into a loader) that refuses documents breaking the limits above."""

    def compose_document(self) -> yaml.Node:
        self._depth = 0
        self._aliases: list[_Alias] = []
        node: yaml.Node = super().compose_document()
        _check_expansion(node, self._aliases)
        return node

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node: yaml.Node = super().compose_node(parent, index)
            self._aliases.append(_Alias(event.anchor, event.start_mark, node))
            return node
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise Refused(event.start_mark, _TOO_DEEP)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _named(alias: _Alias) -> str:
    """`*name` as a message shows it: an anchor's name has no length limit."""
    return "*" + (alias.name if len(alias.name) <= 40 else alias.name[:37] + "...")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node, aliases: list[_Alias]) -> None:
    """Measure every node's expanded size and depth, each shared node once, in one iterative
    depth-first pass (recursion is what a hostile document would exhaust)."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            children = _children(node)
            size[key] = 1 + sum(size[id(child)] for child in children)
            depth[key] = 1 + max((depth[id(child)] for child in children), default=0)
            on_path.discard(key)
        elif key in on_path:
            raise _cycle(node, aliases)
        elif key not in size:
            on_path.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node))
    total = size[id(root)]
    if total > MAX_VALUES:
        raise _too_many(total, aliases, size)
    if depth[id(root)] > MAX_DEPTH:
        deepest = max(aliases, key=lambda alias: depth[id(alias.node)])
        raise Refused(
            deepest.mark,
            f"through the alias {_named(deepest)} the suite nests values {depth[id(root)]} levels "
            f"deep, more than the {MAX_DEPTH} a suite may use",
        )


def _too_many(total: int, aliases: list[_Alias], size: dict[int, int]) -> Refused:
    """Blame the alias that stands for the most values. There is one: a value takes at least a
    character, so MAX_BYTES of text without aliases stay below MAX_VALUES."""
    largest = max(aliases, key=lambda alias: size[id(alias.node)])
    return Refused(
        largest.mark,
        f"the alias {_named(largest)} stands for {size[id(largest.node)]:,} values (anchored at "
        f"line {largest.node.start_mark.line + 1}); with every alias expanded the suite would "
        f"hold {total:,} values, more than the {MAX_VALUES:,} a suite may hold. Aliases are "
        "for sharing a small mapping such as defaults, not for multiplying values",
    )


def _cycle(node: yaml.Node, aliases: list[_Alias]) -> Refused:
    inside = [
        alias
        for alias in aliases
        if alias.node is node and node.start_mark.index <= alias.mark.index <= node.end_mark.index
    ]
    alias = inside[0] if inside else next(alias for alias in aliases if alias.node is node)
    return Refused(
        alias.mark,
        f"the alias {_named(alias)} stands for a value that contains it (anchored at line "
        f"{node.start_mark.line + 1}), so the suite would never end; a suite is a tree",
    )
