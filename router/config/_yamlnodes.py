"""Reading a composed YAML tree while collecting every problem, each located by line, column and key path.

PyYAML's ``compose`` gives nodes that keep their start marks; :class:`Reader` walks them for the loader.
Every check records a :class:`~router.errors.ConfigProblem` and returns ``None`` instead of raising, so one
pass reports everything that is wrong. Keys are always read as their source text (``no``, ``01`` and
``1`` stay text), and ``<<`` merge keys work as in YAML 1.1.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection, Iterable
from enum import StrEnum
from typing import Any, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from router.errors import ConfigProblem

E = TypeVar("E", bound=StrEnum)

NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
NAME_RULE = "a name of letters, digits, '_', '.' or '-' (at most 64)"

_TAG = "tag:yaml.org,2002:"
_NULL, _BOOL, _INT, _FLOAT, _MERGE = (_TAG + t for t in ("null", "bool", "int", "float", "merge"))


def at(path: str, key: str | int) -> str:
    """``path`` extended by a mapping key or a list index."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == _NULL)


def found(node: Node) -> str:
    """What a node holds, for "expected ..., found ..." messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL:
        return "nothing"
    if node.tag in (_BOOL, _INT, _FLOAT):
        return node.value
    text = node.value if len(node.value) <= 40 else node.value[:37] + "..."
    return repr(text)


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a choice is close to ``word``, else nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.7)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _bounds(lo: float | None, above: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" from {lo:g} to {hi:g}"
    if above is not None and hi is not None:
        return f" above {above:g} and at most {hi:g}"
    if lo is not None:
        return f" >= {lo:g}"
    if above is not None:
        return f" > {above:g}"
    return f" <= {hi:g}" if hi is not None else ""


class Reader:
    """Typed access to YAML nodes that records a problem, and returns ``None``, for anything wrong."""

    def __init__(self, source: str) -> None:
        self.source = source  # the file name every problem carries
        self.problems: list[ConfigProblem] = []  # in the order found
        self._merging: set[int] = set()  # ids of the mappings being merged, to stop recursive aliases
        self._copying: set[int] = set()  # ids of the collections :meth:`plain` is inside, likewise
        self._constructor = yaml.SafeLoader("")  # turns scalar nodes into Python values

    def problem(self, node: Node | None, path: str, message: str) -> None:
        line = column = 0
        if node is not None and node.start_mark is not None:
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
        self.problems.append(ConfigProblem(self.source, line, column, path, message))

    def expected(self, node: Node, path: str, what: str) -> None:
        self.problem(node, path, f"expected {what}, found {found(node)}")

    # Collections

    def entries(self, node: Node, path: str) -> dict[str, tuple[Node, Node]] | None:
        """A mapping's entries, key -> (key node, value node), merges applied, duplicates reported."""
        if not isinstance(node, MappingNode):
            self.expected(node, path, "a mapping")
            return None
        if id(node) in self._merging:
            self.problem(node, path, "a mapping that merges itself (recursive alias)")
            return {}
        self._merging.add(id(node))
        try:
            merged: dict[str, tuple[Node, Node]] = {}
            own: dict[str, tuple[Node, Node]] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE:
                    self._merge(value_node, path, merged)
                elif not isinstance(key_node, ScalarNode) or key_node.tag == _NULL:
                    self.expected(key_node, path, "a key")
                elif key_node.value in own:
                    first = own[key_node.value][0].start_mark.line + 1
                    self.problem(
                        key_node,
                        at(path, key_node.value),
                        f"duplicate key '{key_node.value}' (first on line {first})",
                    )
                else:
                    own[key_node.value] = (key_node, value_node)
            return merged | own
        finally:
            self._merging.discard(id(node))

    def _merge(self, node: Node, path: str, into: dict[str, tuple[Node, Node]]) -> None:
        # In ``<<: [*a, *b]`` the keys of *a win over those of *b; the mapping's own keys win over both.
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, MappingNode):
                self.expected(source, at(path, "<<"), "a mapping to merge")
                continue
            for key, pair in (self.entries(source, path) or {}).items():
                into.setdefault(key, pair)

    def fields(self, node: Node, path: str, allowed: Collection[str], required: Collection[str] = ()) -> Fields | None:
        """A mapping with fixed keys: unknown keys and missing required keys are reported."""
        entries = self.entries(node, path)
        if entries is None:
            return None
        for key, (key_node, _) in entries.items():
            if key not in allowed:
                hint = suggest(key, allowed)
                self.problem(key_node, at(path, key), f"unknown key '{key}'{hint}; allowed: {', '.join(allowed)}")
        for key in required:
            if key not in entries:
                self.problem(node, path, f"missing required key '{key}'")
        return Fields(self, node, path, {k: v for k, v in entries.items() if k in allowed})

    def sequence(self, node: Node, path: str, *, non_empty: bool = False) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.expected(node, path, "a list")
            return None
        if non_empty and not node.value:
            self.problem(node, path, "expected a list with at least one item, found an empty list")
        return list(node.value)

    # Scalars

    def integer(
        self, node: Node, path: str, lo: int | None = None, hi: int | None = None, *, what: str = "an integer"
    ) -> int | None:
        value = int(self._construct(node, path)) if isinstance(node, ScalarNode) and node.tag == _INT else None
        if value is None or (lo is not None and value < lo) or (hi is not None and value > hi):
            self.expected(node, path, what + _bounds(lo, None, hi))
            return None
        return value

    def number(
        self,
        node: Node,
        path: str,
        *,
        lo: float | None = None,
        above: float | None = None,
        hi: float | None = None,
        what: str = "a number",
    ) -> float | None:
        value = None
        if isinstance(node, ScalarNode) and node.tag in (_INT, _FLOAT):
            value = float(self._construct(node, path))
        if (
            value is None
            or not math.isfinite(value)
            or (lo is not None and value < lo)
            or (above is not None and value <= above)
            or (hi is not None and value > hi)
        ):
            self.expected(node, path, what + _bounds(lo, above, hi))
            return None
        return value

    def boolean(self, node: Node, path: str) -> bool | None:
        if isinstance(node, ScalarNode) and node.tag == _BOOL:
            return bool(self._construct(node, path))
        self.expected(node, path, "true or false")
        return None

    def text(self, node: Node, path: str, *, what: str = "text") -> str | None:
        """Any scalar but null, as written in the file."""
        if isinstance(node, ScalarNode) and node.tag != _NULL:
            return node.value
        self.expected(node, path, what)
        return None

    def matching(self, node: Node, path: str, pattern: re.Pattern[str], what: str) -> str | None:
        value = self.text(node, path, what=what)
        if value is not None and not pattern.fullmatch(value):
            self.expected(node, path, what)
            return None
        return value

    def name(self, node: Node, path: str) -> str | None:
        return self.matching(node, path, NAME, NAME_RULE)

    def choice(self, node: Node, path: str, enum: type[E]) -> E | None:
        allowed = [e.value for e in enum]
        value = self.text(node, path, what="one of " + ", ".join(allowed))
        if value is None:
            return None
        if value not in allowed:
            hint = suggest(value, allowed)
            self.problem(node, path, f"expected one of {', '.join(allowed)}; found '{value}'{hint}")
            return None
        return enum(value)

    def reference(self, node: Node, path: str, known: Collection[str], what: str) -> str | None:
        """The name of a declared ``what`` (skill, channel, queue, profile)."""
        value = self.text(node, path, what=f"a {what} name")
        if value is None:
            return None
        if value not in known:
            declared = ", ".join(sorted(known)) or "none"
            self.problem(node, path, f"unknown {what} '{value}'{suggest(value, known)}; declared: {declared}")
            return None
        return value

    def plain(self, node: Node, path: str) -> Any:
        """Plain Python (dicts, lists, scalars) for sections the loader does not interpret yet."""
        if isinstance(node, ScalarNode):
            return self._construct(node, path)
        if id(node) in self._copying:
            self.problem(node, path, "a collection that contains itself (recursive alias)")
            return None
        self._copying.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return {k: self.plain(v, at(path, k)) for k, (_, v) in (self.entries(node, path) or {}).items()}
            return [self.plain(item, at(path, i)) for i, item in enumerate(node.value)]
        finally:
            self._copying.discard(id(node))

    def _construct(self, node: ScalarNode, path: str = "") -> Any:
        try:
            return self._constructor.construct_object(node)
        except yaml.YAMLError as e:
            self.problem(node, path, f"cannot read this value: {getattr(e, 'problem', None) or e}")
            return None


class Fields:
    """The entries of a mapping with fixed keys; each typed getter returns ``default`` when the key is absent.

    A present but invalid value is reported by the reader and also gives ``default``, so building goes on
    and every problem is found in one pass.
    """

    def __init__(self, reader: Reader, node: Node, path: str, entries: dict[str, tuple[Node, Node]]) -> None:
        self.reader = reader
        self.node = node  # the mapping node itself
        self.path = path  # its key path
        self.entries = entries  # allowed keys only

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def get(self, key: str) -> Node | None:
        pair = self.entries.get(key)
        return pair[1] if pair else None

    def key_node(self, key: str) -> Node | None:
        pair = self.entries.get(key)
        return pair[0] if pair else None

    def at(self, key: str) -> str:
        return at(self.path, key)

    def _read(self, key: str, default: Any, read: Any, **kw: Any) -> Any:
        node = self.get(key)
        if node is None:
            return default
        value = read(node, self.at(key), **kw)
        return default if value is None else value

    def integer(self, key: str, default: Any = None, **kw: Any) -> Any:
        return self._read(key, default, self.reader.integer, **kw)

    def number(self, key: str, default: Any = None, **kw: Any) -> Any:
        return self._read(key, default, self.reader.number, **kw)

    def boolean(self, key: str, default: Any = None) -> Any:
        return self._read(key, default, self.reader.boolean)

    def text(self, key: str, default: Any = None, **kw: Any) -> Any:
        return self._read(key, default, self.reader.text, **kw)

    def matching(self, key: str, pattern: re.Pattern[str], what: str, default: Any = None) -> Any:
        return self._read(key, default, self.reader.matching, pattern=pattern, what=what)

    def choice(self, key: str, enum: type[E], default: Any = None) -> Any:
        return self._read(key, default, self.reader.choice, enum=enum)

    def reference(self, key: str, known: Collection[str], what: str, default: Any = None) -> Any:
        return self._read(key, default, self.reader.reference, known=known, what=what)
