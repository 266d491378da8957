"""MkDocs hook: the reference pages' tables are written from the code at build time.

A page asks for a generated section with a marker on a line of its own:

- `<!-- labench:commands -->`: every command of the typer app, its arguments and options;
- `<!-- labench:suite-schema -->`: the suite format, from the JSON Schema `labench schema` prints;
- `<!-- labench:result-schema -->`: the result file format and the versions this labench reads;
- `<!-- labench:workloads -->`: the built-in workloads, their parameters and implementations.

`suite.schema.json` (the output of `labench schema`) is published beside the suite reference.
A marker that no page uses, or used twice, fails the build, so a section cannot silently vanish.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

SUITE_SCHEMA_FILE = "reference/suite.schema.json"
_used: dict[str, str] = {}


# --- shared helpers -----------------------------------------------------------------------------


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped, and outside code spans
    angle brackets escaped (help texts write placeholders as `<suite>`)."""
    parts = " ".join(str(text).split()).replace("|", "\\|").split("`")
    for index in range(0, len(parts), 2):
        parts[index] = parts[index].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _literal(value: object) -> str:
    """A value as a suite or result file writes it: text bare, the rest as JSON."""
    return _code(value if isinstance(value, str) else json.dumps(value))


def _code(value: object) -> str:
    text = str(value)
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}"


def _paragraphs(text: str | None) -> list[str]:
    """A docstring's paragraphs, each joined onto one line."""
    if not text:
        return []
    return [" ".join(block.split()) for block in re.split(r"\n\s*\n", text.strip())]


def _table(headers: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# --- commands -----------------------------------------------------------------------------------


def cli_group() -> Any:
    """The click command behind `labench`, as typer builds it."""
    import typer

    from labench.commands.app import app

    return typer.main.get_command(app)


def visible_commands(group: Any) -> list[tuple[str, Any]]:
    """(name, command) of every command `labench --help` lists, in its order."""
    return [(name, command) for name, command in group.commands.items() if not command.hidden]


def option_names(command: Any) -> list[str]:
    """Every spelling of every visible option of a command: `-o`, `--output`, `--no-force`..."""
    return [
        name
        for param in command.params
        if _is_option(param) and not param.hidden
        for name in [*param.opts, *param.secondary_opts]
    ]


def _is_option(param: Any) -> bool:
    return type(param).__name__.endswith("Option") or getattr(param, "param_type_name", "") == (
        "option"
    )


def _value_kind(param: Any) -> str:
    """What a parameter takes, in words; typer's own classes and plain click's both answer."""
    if getattr(param, "is_flag", False):
        return "flag"
    kind = None
    bare = getattr(param, "bare_type", None)
    if callable(bare):
        try:
            kind = bare()
        except Exception:  # another typer's signature: fall back to click's type
            kind = None
    if not isinstance(kind, str):
        kind = getattr(getattr(param, "type", None), "name", None) or "value"
    kind = kind.removeprefix("list[").removesuffix("]").lower().removesuffix(" range")
    words = {"str": "text", "int": "integer", "float": "number"}
    kind = words.get(kind, kind)
    low = getattr(param, "min", getattr(getattr(param, "type", None), "min", None))
    high = getattr(param, "max", getattr(getattr(param, "type", None), "max", None))
    if low is not None and high is not None:
        kind += f", {low:g} to {high:g}"
    elif low is not None:
        kind += f" ≥ {low:g}"
    elif high is not None:
        kind += f" ≤ {high:g}"
    return kind


def _default(param: Any) -> str:
    default = param.default
    if callable(default) or default is None or default == [] or default == ():
        return ""
    if getattr(param, "is_flag", False):
        return "on" if default else "off"
    return _code(default)


def _usage(name: str, command: Any) -> str:
    pieces = [f"labench {name}"]
    if any(_is_option(param) and not param.hidden for param in command.params):
        pieces.append("[OPTIONS]")
    for param in command.params:
        if _is_option(param):
            continue
        piece = param.name.upper() + ("..." if param.nargs == -1 else "")
        pieces.append(piece if param.required else f"[{piece}]")
    return " ".join(pieces)


def commands_markdown() -> str:
    group = cli_group()
    out = []
    summary = [
        [f"[`labench {name}`](#{name})", _paragraphs(command.help)[0] if command.help else ""]
        for name, command in visible_commands(group)
    ]
    out += [_table(["command", "what it does"], summary), ""]
    for name, command in visible_commands(group):
        out += [f"## `labench {name}` {{#{name}}}", "", "```text", _usage(name, command), "```", ""]
        out += [paragraph + "\n" for paragraph in _paragraphs(command.help)]
        arguments = [param for param in command.params if not _is_option(param)]
        if arguments:
            rows = [
                [
                    _code(param.name.upper() + ("..." if param.nargs == -1 else "")),
                    _value_kind(param) + (", one or more" if param.nargs == -1 else ""),
                    "yes" if param.required else "no",
                    getattr(param, "help", "") or "",
                ]
                for param in arguments
            ]
            out += [_table(["argument", "takes", "required", "meaning"], rows), ""]
        options = [param for param in command.params if _is_option(param) and not param.hidden]
        if options:
            rows = []
            for param in options:
                names = ", ".join(_code(opt) for opt in param.opts)
                if param.secondary_opts:
                    names += " / " + ", ".join(_code(opt) for opt in param.secondary_opts)
                kind = _value_kind(param) + ("; repeatable" if param.multiple else "")
                meaning = (param.help or "") + (" Required." if param.required else "")
                rows.append([names, kind, _default(param), meaning])
            out += [_table(["option", "takes", "default", "meaning"], rows), ""]
    return "\n".join(out)


# --- JSON Schema (suite and result formats) -----------------------------------------------------


def _anchor(name: str) -> str:
    return name.lower()


def _schema_type(node: dict[str, Any]) -> str:
    """One JSON Schema node in words."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(name)})"
    if "anyOf" in node:
        branches = [branch for branch in node["anyOf"] if branch.get("type") != "null"]
        if len(branches) == 1:
            return _schema_type(branches[0])
        singles = [branch for branch in branches if branch.get("type") != "array"]
        lists = [branch for branch in branches if branch.get("type") == "array"]
        one = " or ".join(dict.fromkeys(_schema_type(branch) for branch in singles))
        items = [_schema_type(branch.get("items", {})) for branch in lists]
        if singles and len(lists) == 1 and items[0] in (one, f"({one})"):
            return f"{one}, or a list of them"
        return " or ".join(dict.fromkeys(_schema_type(branch) for branch in branches))
    if "const" in node:
        return _literal(node["const"])
    if "enum" in node:
        return "one of " + ", ".join(_literal(value) for value in node["enum"])
    kind = node.get("type")
    if kind == "array":
        items = node.get("items")
        if isinstance(items, dict):
            text = f"list of {_schema_type(items)}"
        elif "prefixItems" in node:
            kinds = [_schema_type(item) for item in node["prefixItems"]]
            return f"[{', '.join(kinds)}]"
        else:
            text = "list"
        if "minItems" in node:
            text += f" (at least {node['minItems']})"
        return text
    if kind == "object":
        if "properties" in node:
            keys = ", ".join(_code(key) for key in node["properties"])
            return f"mapping with keys {keys}"
        values = node.get("additionalProperties")
        if isinstance(values, dict) and values:
            return f"mapping of text to {_schema_type(values)}"
        return "mapping"
    words = {"integer": "integer", "number": "number", "string": "text", "boolean": "true/false"}
    text = words.get(kind, kind or "any")
    bounds = []
    for key, sign in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ):
        if key in node:
            bounds.append(f"{sign} {node[key]:g}")
    if bounds:
        text += " " + ", ".join(bounds)
    if "maxLength" in node:
        text += f", at most {node['maxLength']} characters"
    if "pattern" in node:
        text += f" matching {_code(node['pattern'])}"
    return text


def _description(node: dict[str, Any]) -> str:
    if "description" in node:
        return node["description"]
    for branch in node.get("anyOf", []):
        if "description" in branch:
            return branch["description"]
    return ""


def _fields_table(node: dict[str, Any], defaults: dict[str, Any] | None = None) -> str:
    required = set(node.get("required", []))
    rows = []
    for name, field in node.get("properties", {}).items():
        default = (defaults or {}).get(name, field.get("default"))
        rows.append(
            [
                _code(name),
                _schema_type(field),
                "yes" if name in required else "",
                "" if default in (None, [], {}) else _literal(default),
                _description(field),
            ]
        )
    return _table(["field", "type", "required", "default", "meaning"], rows)


def schema_markdown(
    document: dict[str, Any],
    top: str,
    defaults: dict[str, dict[str, Any]] | None = None,
) -> str:
    """The top-level fields of a JSON Schema, then each of its definitions."""
    defaults = defaults or {}
    out = [f"### {top} {{#{_anchor(top)}}}", ""]
    out += [_paragraphs(document.get("description"))[0] + "\n"] if "description" in document else []
    out += [_fields_table(document, defaults.get(top)), ""]
    for name, node in document.get("$defs", {}).items():
        out += [f"### {name} {{#{_anchor(name)}}}", ""]
        out += [paragraph + "\n" for paragraph in _paragraphs(node.get("description"))]
        if "properties" in node:
            out += [_fields_table(node, defaults.get(name)), ""]
        else:
            out += [_schema_type(node) + "\n"]
    return "\n".join(out)


def suite_schema_text() -> str:
    """Exactly what `labench schema` prints."""
    from typer.testing import CliRunner

    from labench.commands.app import app

    ran = CliRunner().invoke(app, ["schema"])
    if ran.exit_code != 0:
        raise PluginError(f"`labench schema` failed (exit {ran.exit_code}): {ran.output}")
    return ran.output


def suite_schema_markdown() -> str:
    from labench.suite.model import MEASUREMENT_DEFAULTS

    document = json.loads(suite_schema_text())
    measured = MEASUREMENT_DEFAULTS.model_dump(mode="json", exclude_none=True)
    # A one-element sweep is written as the bare value in a suite.
    measured = {
        key: value[0] if isinstance(value, list) and len(value) == 1 else value
        for key, value in measured.items()
    }
    defaults = {"Measurement": measured, "Benchmark": measured}
    return schema_markdown(document, "Suite", defaults)


def result_schema_markdown() -> str:
    from labench.results.model import MIGRATIONS, SCHEMA, Result

    versions = [
        f"This labench writes {_code(SCHEMA)}. It also reads "
        + (", ".join(_code(old) for old in MIGRATIONS) or "nothing older")
        + ", migrated to the current version as the file is read; the file itself is not "
        "changed.",
        "",
    ]
    document = Result.model_json_schema(by_alias=True)
    document.pop("description", None)
    return "\n".join(versions) + "\n" + schema_markdown(document, "Result")


# --- workloads ----------------------------------------------------------------------------------


def workloads_markdown() -> str:
    from labench.workloads import BUILTIN

    out = [
        _table(
            ["workload", "what", "implementations"],
            [
                [
                    f"[`{name}`](#{name.replace('.', '-')})",
                    workload.summary,
                    ", ".join(
                        _code(impl) + (" (opt-in)" if found.opt_in else "")
                        for impl, found in workload.implementations.items()
                    ),
                ]
                for name, workload in sorted(BUILTIN.items())
            ],
        ),
        "",
    ]
    for name, workload in sorted(BUILTIN.items()):
        out += [f"## `{name}` {{#{name.replace('.', '-')}}}", "", workload.summary + "\n"]
        rows = [
            [
                _code(param),
                spec.describe().removeprefix("a ").removeprefix("an "),
                _code(repr(spec.default) if isinstance(spec.default, str) else spec.default)
                if spec.default is not None
                else "none",
                spec.help
                + ("" if spec.in_key_at_default else " (left out of case keys at its default)"),
            ]
            for param, spec in workload.params.items()
        ]
        out += [_table(["parameter", "takes", "default", "meaning"], rows), ""]
        rows = [
            [
                _code(impl),
                _code(found.backend),
                "opt-in" if found.opt_in else "",
                "" if found.tolerance is None else f"{found.tolerance:g}",
                found.summary,
            ]
            for impl, found in workload.implementations.items()
        ]
        out += [_table(["implementation", "backend", "runs", "tolerance", "what"], rows), ""]
    return "\n".join(out)


# --- the hook -----------------------------------------------------------------------------------

SECTIONS: dict[str, Callable[[], str]] = {
    "<!-- labench:commands -->": commands_markdown,
    "<!-- labench:suite-schema -->": suite_schema_markdown,
    "<!-- labench:result-schema -->": result_schema_markdown,
    "<!-- labench:workloads -->": workloads_markdown,
}


def on_pre_build(config: Any) -> None:
    _used.clear()


def on_files(files: Any, config: Any) -> Any:
    files.append(File.generated(config, SUITE_SCHEMA_FILE, content=suite_schema_text()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    for marker, render in SECTIONS.items():
        if marker not in markdown:
            continue
        where = page.file.src_uri
        if marker in _used or markdown.count(marker) > 1:
            raise PluginError(f"{marker} appears more than once ({where}, {_used.get(marker)})")
        _used[marker] = where
        markdown = markdown.replace(marker, render())
    return markdown


def on_post_build(config: Any) -> None:
    missing = sorted(set(SECTIONS) - set(_used))
    if missing:
        raise PluginError(f"no page holds the generated section(s) {', '.join(missing)}")
