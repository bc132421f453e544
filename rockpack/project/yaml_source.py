"""Load a YAML document and remember the line of every key.

Project-file errors must name the line, so loading keeps a map from each key path
(a tuple such as ``("parts", "hello", "plugin")``) to the 1-based line where it appears.
Duplicate keys, which PyYAML would silently collapse, are an error here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rockpack.errors import ProjectFileError

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlSource:
    """A loaded document and the lines of its keys."""

    path: Path
    data: Any
    lines: dict[KeyPath, int]

    def line_of(self, key_path: KeyPath) -> int | None:
        """The line of ``key_path``, or of its closest ancestor that has one."""
        for end in range(len(key_path), 0, -1):
            line = self.lines.get(tuple(key_path[:end]))
            if line is not None:
                return line
        return None


def load_yaml(path: Path) -> YamlSource:
    """Read and parse ``path``; raise ProjectFileError on unreadable or malformed YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ProjectFileError(
            path,
            f"is not UTF-8 text ({err.reason} at byte {err.start}).",
            fix="Save the file as UTF-8.",
        ) from err
    except OSError as err:
        raise ProjectFileError(
            path, f"cannot be read: {err.strerror}.", fix="Check the path and its permissions."
        ) from err
    return parse_yaml(path, text)


def parse_yaml(path: Path, text: str) -> YamlSource:
    """Parse ``text`` (read from ``path``) into data and key lines."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context
        context = err.context_mark
        if err.context and context and mark and context.line != mark.line:
            problem = f"{problem} ({err.context} that starts at line {context.line + 1})"
        raise ProjectFileError(
            path,
            f"is not valid YAML: {problem}.",
            line=mark.line + 1 if mark else None,
            fix="Correct the YAML syntax at that line (indentation, quotes, colons).",
        ) from err
    if node is None:
        raise ProjectFileError(path, "is empty.", fix="Run 'rockpack init' for a starting point.")
    lines: dict[KeyPath, int] = {}
    _index_lines(path, node, (), lines)
    data = yaml.SafeLoader(text).get_single_data()
    return YamlSource(path=path, data=data, lines=lines)


def _index_lines(path: Path, node: yaml.Node, prefix: KeyPath, lines: dict[KeyPath, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                raise ProjectFileError(
                    path,
                    "appears twice in the same mapping.",
                    key=".".join(str(p) for p in (*prefix, key)),
                    line=key_node.start_mark.line + 1,
                    fix="Keep one of the two entries.",
                )
            seen.add(key)
            lines[(*prefix, key)] = key_node.start_mark.line + 1
            _index_lines(path, value_node, (*prefix, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*prefix, index)] = item.start_mark.line + 1
            _index_lines(path, item, (*prefix, index), lines)
