"""Load a YAML document, bounded, and remember the line of every key.

Project-file errors must name the line, so loading keeps a map from each key path
(a tuple such as ``("parts", "hello", "plugin")``) to the 1-based line where it appears,
and the text as written of every scalar YAML read as something other than a string
(``1.10`` is the float 1.1; the message asking to quote it shows ``1.10``). Duplicate
keys, which PyYAML would silently collapse, and keys that are not text are errors here.
Reading is bounded in size, depth and alias expansion (see yaml_bounds).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from rockpack.errors import ProjectFileError
from rockpack.project.yaml_bounds import MAX_FILE_BYTES, Loader, check_bounds, too_large

KeyPath = tuple[str | int, ...]

STR_TAG = "tag:yaml.org,2002:str"
MERGE_TAG = "tag:yaml.org,2002:merge"
TAG_KINDS = {
    "tag:yaml.org,2002:int": "number",
    "tag:yaml.org,2002:float": "number",
    "tag:yaml.org,2002:bool": "boolean",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:timestamp": "date",
}
# What a value that cannot be built (a date of month 13, a 5000-digit number) raises.
CONSTRUCT_ERRORS = (ValueError, TypeError, OverflowError, ArithmeticError, RecursionError)


@dataclass(frozen=True)
class YamlSource:
    """A loaded document, the lines of its keys, and the text of its non-string scalars."""

    path: Path
    data: Any
    lines: dict[KeyPath, int]
    scalars: dict[KeyPath, str] = field(default_factory=dict)

    def line_of(self, key_path: KeyPath) -> int | None:
        """The line of ``key_path``, or of its closest ancestor that has one."""
        for end in range(len(key_path), 0, -1):
            line = self.lines.get(tuple(key_path[:end]))
            if line is not None:
                return line
        return None


def load_yaml(path: Path) -> YamlSource:
    """Read and parse ``path``; raise ProjectFileError on unreadable or malformed YAML."""
    return parse_yaml(path, read_text(path))


def read_text(path: Path) -> str:
    """The file's text: a regular file, at most MAX_FILE_BYTES, UTF-8 (a BOM is dropped)."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise ProjectFileError(
                path, "is a directory, not a file.", fix="Remove or rename the directory."
            )
        if not stat.S_ISREG(info.st_mode):
            raise ProjectFileError(
                path,
                "is not a regular file (a pipe, socket or device cannot be a project file).",
                fix="Make it a regular file.",
            )
        if info.st_size > MAX_FILE_BYTES:
            raise too_large(path)
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise too_large(path)
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ProjectFileError(
            path,
            f"is not UTF-8 text ({err.reason} at byte {err.start}).",
            fix="Save the file as UTF-8.",
        ) from err
    except OSError as err:
        raise ProjectFileError(
            path,
            f"cannot be read: {err.strerror or err}.",
            fix="Check the path and its permissions.",
        ) from err


def parse_yaml(path: Path, text: str) -> YamlSource:
    """Parse ``text`` (read from ``path``) into data, key lines and scalar texts."""
    try:
        check_bounds(path, text)
        node = yaml.compose(text, Loader=Loader)
    except yaml.YAMLError as err:
        raise syntax_error(path, text, err) from err
    except RecursionError as err:  # pragma: no cover - check_bounds limits the depth first
        raise ProjectFileError(path, "is nested too deeply to read.") from err
    if node is None:
        raise ProjectFileError(path, "is empty.", fix="Run 'rockpack init' for a starting point.")
    index = _Index(path)
    index.visit(node, ())
    try:
        data = SafeConstructor().construct_document(node)
    except yaml.YAMLError as err:
        raise syntax_error(path, text, err) from err
    except CONSTRUCT_ERRORS as err:
        raise ProjectFileError(
            path, f"has a value YAML cannot build: {err}.", fix="Quote the value."
        ) from err
    return YamlSource(path=path, data=data, lines=index.lines, scalars=index.scalars)


def syntax_error(path: Path, text: str, err: yaml.YAMLError) -> ProjectFileError:
    """A YAML error as a located project-file error."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context
        context = err.context_mark
        if err.context and context and mark and context.line != mark.line:
            problem = f"{problem} ({err.context} that starts at line {context.line + 1})"
        line = mark.line + 1 if mark else None
    elif isinstance(err, yaml.reader.ReaderError):
        problem = f"has a character YAML does not allow: {err.reason}"
        line = text[: max(err.position, 0)].count("\n") + 1
    else:
        problem, line = str(err), None
    return ProjectFileError(
        path,
        f"is not valid YAML: {problem}.",
        line=line,
        fix="Correct the YAML syntax at that line (indentation, quotes, colons).",
    )


@dataclass
class _Index:
    """Walks the composed nodes: lines of keys, texts of non-string scalars, bad keys."""

    path: Path
    lines: dict[KeyPath, int] = field(default_factory=dict)
    scalars: dict[KeyPath, str] = field(default_factory=dict)
    constructor: SafeConstructor = field(default_factory=SafeConstructor)

    def visit(self, node: yaml.Node, prefix: KeyPath) -> None:
        if isinstance(node, yaml.MappingNode):
            self._mapping(node, prefix)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.lines[(*prefix, index)] = item.start_mark.line + 1
                self.visit(item, (*prefix, index))
        elif isinstance(node, yaml.ScalarNode) and node.tag != STR_TAG:
            self.scalars[prefix] = str(node.value)
            self._check_scalar(node, prefix)

    def _mapping(self, node: yaml.MappingNode, prefix: KeyPath) -> None:
        seen: set[str] = set()
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == MERGE_TAG:  # '<<: *defaults' adds the keys of another mapping
                merged = value_node.value if isinstance(value_node, yaml.SequenceNode) else []
                for source in merged or [value_node]:
                    self.visit(source, prefix)
                continue
            key = self._key(key_node, prefix, line)
            where = ".".join(str(p) for p in (*prefix, key))
            if key in seen:
                raise ProjectFileError(
                    self.path,
                    "appears twice in the same mapping.",
                    key=where,
                    line=line,
                    fix="Keep one of the two entries.",
                )
            seen.add(key)
            self.lines[(*prefix, key)] = line
            self.visit(value_node, (*prefix, key))

    def _key(self, key_node: yaml.Node, prefix: KeyPath, line: int) -> str:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag == STR_TAG:
            return str(key_node.value)
        parent = ".".join(str(p) for p in prefix) or None
        if isinstance(key_node, yaml.ScalarNode):
            text = shown(str(key_node.value))
            kind = TAG_KINDS.get(key_node.tag, "non-text value")
            raise ProjectFileError(
                self.path,
                f"has the key {text or '(empty)'}, which YAML reads as a {kind}; keys must be "
                f'text: write it quoted: "{text}":',
                key=parent,
                line=line,
                fix=f'Quote the key: "{text}":',
            )
        raise ProjectFileError(
            self.path,
            "has a mapping or list as a key; keys must be text.",
            key=parent,
            line=line,
            fix="Use a plain name as the key.",
        )

    def _check_scalar(self, node: yaml.ScalarNode, prefix: KeyPath) -> None:
        """A scalar YAML cannot build (``2024-13-01``, a 5000-digit number): say where."""
        try:
            self.constructor.construct_object(node)
        except yaml.YAMLError:
            return  # an unknown tag: construct_document reports it with its line
        except CONSTRUCT_ERRORS as err:
            name, text = (prefix[-1] if prefix else "value"), shown(str(node.value))
            raise ProjectFileError(
                self.path,
                f"cannot be read: YAML takes {text} as a {TAG_KINDS.get(node.tag, 'value')}, "
                f'and {shown(str(err))}; if it is text, write it quoted: {name}: "{text}".',
                key=".".join(str(p) for p in prefix) or None,
                line=node.start_mark.line + 1,
                fix=f'Quote the value: "{text}".',
            ) from err


def shown(text: str, limit: int = 60) -> str:
    """``text`` as a message quotes it: cut short past ``limit`` characters."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
